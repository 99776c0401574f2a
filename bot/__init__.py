"""Cluster Concierge chat front ends (terminal, Slack, Teams) over one conversation core."""
