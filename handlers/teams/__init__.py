"""Microsoft Teams: activities that reach `/api/messages` once their token has been checked."""
