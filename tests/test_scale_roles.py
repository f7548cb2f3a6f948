"""Building the scale-out roles from brandbot.yaml, and the deployment files that do it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.ops.cli import main
from brandbot.scale.gateway import Gateway
from brandbot.scale.roles import build_role
from brandbot.scale.sendguard import GuardedNetwork
from brandbot.scale.worker import Worker

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "scale"


def write(folder: Path, **extra: object) -> Path:
    config = {"brand": {"name": "Acme"}, "networks": {"memory": {}}, "plugin_dirs": [],
              "storage": {"path": str(folder / "bot.sqlite3")}, **extra}
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("role", ["gateway", "worker"])
def test_a_role_on_sqlite_says_to_set_storage_url(tmp_path: Path, role: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    with pytest.raises(ConfigError, match=r"storage\.url.*postgresql://"):
        build_role(role, load_config(path))  # type: ignore[arg-type]
    assert main(["-c", str(path), role]) == 2  # the configuration error status, nothing started
    assert "set storage.url to postgresql://" in capsys.readouterr().err


async def test_the_deployment_snippet_builds_both_roles(tmp_path: Path) -> None:
    """deploy/scale/brandbot.scale.yaml, with the environment it names, gives working roles."""
    snippet = yaml.safe_load((DEPLOY / "brandbot.scale.yaml").read_text())
    path = write(tmp_path, **snippet)
    env = {"DATABASE_URL": "postgresql://bot@127.0.0.1:1/db", "REDIS_URL": "redis://127.0.0.1:1/0"}
    config = load_config(path, env=env)
    assert config.top.redis.partitions == 32 and config.top.storage.brand_id == "acme"
    gateway = build_role("gateway", config)
    worker = build_role("worker", config)
    assert isinstance(gateway, Gateway) and isinstance(worker, Worker)
    assert gateway.keys.events(3) == "brandbot:{acme}:events:3" == worker.keys.events(3)
    assert all(isinstance(n, GuardedNetwork) for n in gateway.networks.values())  # every send is limited
    scraped = gateway.metrics.render().decode() + worker.metrics.render().decode()
    for series in ("brandbot_gateway_outstanding 0.0", "brandbot_gateway_replayed_total 0.0",
                   "brandbot_worker_claimed_total 0.0", "brandbot_worker_partitions_held 0.0"):
        assert series in scraped
    await gateway.redis.aclose()
    await worker.redis.aclose()


def test_the_compose_file_runs_one_gateway_and_scalable_workers() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "gateway", "worker"}
    assert services["gateway"]["command"] == ["gateway"] and services["gateway"]["deploy"]["replicas"] == 1
    assert services["worker"]["command"] == ["worker"]
    redis_args = services["redis"]["command"]
    assert "noeviction" in redis_args and "everysec" in redis_args
    for unit in ("brandbot-gateway.service", "brandbot-worker@.service"):
        text = (ROOT / "deploy" / unit).read_text()
        assert "ExecStart=/opt/brandbot/venv/bin/brandbot --config config/brandbot.yaml " in text
