"""Outbound webhooks (API.md, Outbound webhooks).

events: the transactional outbox (record an event with the change that causes it);
endpoints and deliveries: what the admin API manages; secrets and signing: how deliveries are
signed; deliverer: the process that sends what is due; notices: run-jobs' events.
"""
