"""HubSpot's CRM API: the deal or ticket a webhook notification names, read with a private app's token."""
