"""Network adapters: each translates one platform's library to brandbot events and back."""
