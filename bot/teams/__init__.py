"""Microsoft Teams: which requests whoelse trusts, and where it learns the keys that prove them."""
