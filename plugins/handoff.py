"""handoff: "human"/"agent" hands the person to the team; complaints go to the team too; /release gives them back.

A person is handed to the team when they ask for one (a word or phrase of ``words`` in
their message, punctuation ignored: "I need a human, not a bot"; or a message of an
intent in ``intents``, e.g. "is there an actual person I can talk to?" in any language
the intent has examples in), or when they complain (a message of an intent in
``complaint_intents``, or a negative one when ``complaint_when_negative``): then the
answer is an apology instead of the cheerful reply another rule would give.

In a private chat the whole chat is handed off; in a group only the person who asked
(the bot keeps answering the others). While handed off, the policy refuses every
automated reply to them there, except the confirmations they ask for ("stop",
/forgetme); it resumes after a staff member's ``/release`` or the configured timeout.
The staff are told once, however often the person asks again meanwhile.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin, normalize, normalize_all, words

#: Ways people ask for a person, in the languages of the example brand; whole words or phrases.
WORDS = [
    "human", "humans", "agent", "staff", "operator", "a person", "real person", "actual person", "someone real",
    "talk to a human", "speak to someone", "customer service", "customer support", "representative",
    "mensch", "menschen", "mitarbeiter", "mitarbeiterin", "echte person",
    "humano", "una persona", "persona real", "alguien del equipo",
    "humain", "une personne", "vraie personne", "conseiller",
]


#: Words that make a message a complaint whatever the models say (whole words or phrases).
COMPLAINT_WORDS = [
    "disappointed", "disappointing", "upset", "refund", "damaged", "broken", "torn", "ripped", "scam",
    "unacceptable", "terrible", "awful", "worst", "ridiculous", "furious", "fed up", "not happy",
    "nobody responds", "nobody answers", "nobody helps", "nobody replied", "no one answers", "never arrived",
    "never came", "wrong book", "charged twice",
    "enttauscht", "kaputt", "beschadigt", "frechheit", "argerlich", "reklamation",
    "decepcionado", "decepcionada", "danado", "roto", "reembolso", "verguenza",
    "decu", "decue", "abime", "abimee", "casse", "inadmissible", "remboursement",
]


class HandoffSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] = WORDS
    intents: list[str] = ["human"]  # intents that ask for a person (when the intents file has them)
    complaint_intents: list[str] = ["complaint"]
    complaint_when_negative: bool = True  # a negative message (sentiment) is a complaint too
    complaint_words: list[str] = COMPLAINT_WORDS
    notice: str = "Of course, {{ name }}. A person from {{ brand.name }} will answer here soon; I'll keep quiet meanwhile."
    apology: dict[str, str] = {
        "en": "I'm so sorry about this, {{ name }}. I've passed it to a person at {{ brand.name }}, "
              "who will answer here soon.",
        "de": "Das tut mir sehr leid, {{ name }}. Ich habe es an eine Person bei {{ brand.name }} "
              "weitergegeben, die sich hier bald meldet.",
        "es": "Lo siento mucho, {{ name }}. Se lo he pasado a una persona de {{ brand.name }}, "
              "que te responderá aquí pronto.",
        "fr": "Je suis vraiment désolé, {{ name }}. J'ai transmis votre message à une personne de "
              "{{ brand.name }}, qui vous répondra ici bientôt.",
    }


plugin = Plugin("handoff", config=HandoffSettings, description="hand a conversation to people")


def says_one_of(text: str, phrases: list[str]) -> bool:
    """A word or phrase of ``phrases`` is in the message (case, accents, punctuation and ``@handles`` ignored)."""
    said = " ".join(w for w in words(normalize(text)) if not w.startswith("@"))
    return any(f" {w} " in f" {said} " for w in normalize_all(tuple(phrases)))


def asks_for_a_person(text: str, settings: HandoffSettings) -> bool:
    return says_one_of(text, settings.words)


def complains(ctx: Context[HandoffSettings]) -> bool:
    """A complaint word, the complaint intent, or (if so configured) a negative message."""
    reading, settings = ctx.reading, ctx.config
    if says_one_of(ctx.event.text, settings.complaint_words):
        return True
    if reading is None:
        return False
    if reading.intent_name in settings.complaint_intents:
        return True
    return settings.complaint_when_negative and reading.negative


def apology(ctx: Context[HandoffSettings]) -> str:
    table = ctx.config.apology
    language = ctx.reading.language if ctx.reading is not None else ""
    return table.get(language) or table.get("en") or next(iter(table.values()), ctx.config.notice)


@plugin.on(Kind.DIRECT, Kind.MENTION, Kind.REPLY, priority=900)
async def ask_for_human(ctx: Context[HandoffSettings]) -> None:
    if asks_for_a_person(ctx.event.text, ctx.config) or (
            ctx.reading is not None and ctx.reading.intent_name in ctx.config.intents):
        await ctx.reply(ctx.config.notice)
        await ctx.handoff("asked for a person")
    elif complains(ctx):
        await ctx.reply(apology(ctx))
        await ctx.handoff("complaint")
    else:
        return
    ctx.stop()  # handed off even if the notice was refused: nobody else answers


@plugin.command("release", description="Let the bot answer again (network:conversation, or "
                "network:conversation@follower for one person in a group)", admin=True)
async def release(ctx: Context) -> None:
    target = ctx.event.args[0] if ctx.event.args else f"{ctx.event.network}:{ctx.event.conversation.id}"
    network, sep, conversation = target.partition(":")
    if not sep:
        await ctx.reply("Usage: /release network:conversation (for example /release telegram:12345), or "
                        "network:conversation@follower for one person in a group (as /handoffs lists them)")
        return
    released = ctx.staff.release(network, conversation)
    await ctx.reply(
        "Released {{ target }}: the bot answers there again." if released else "{{ target }} was not handed off.",
        variables={"target": target},
        essential=True,
    )


@plugin.command("handoffs", description="List conversations (and people in groups) handed to the team", admin=True)
async def list_handoffs(ctx: Context) -> None:
    items = ctx.staff.handoffs()
    lines = "\n".join(f"{net}:{conv} until {until:%Y-%m-%d %H:%M} UTC" for (net, conv), until in items)
    await ctx.reply("{{ lines }}", variables={"lines": lines or "No conversation is handed off."}, essential=True)
