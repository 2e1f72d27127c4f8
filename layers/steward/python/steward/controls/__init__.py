"""Operator controls: the tenant lifecycle (created, suspended, resumed; allowed models, audit
retention) and the kill switch (global, tenant, model, model version).

Both live as small items in one control table (``ResourceNames.control_table``): they share their
readers (the api function, through one short cache: `steward.controls.gate`), their writers (the
``steward`` CLI and the platform-admin routes: `steward.controls.service`) and their 5 s freshness
promise, so one table, one grant and one cache serve both. Plans (limits, quotas) are not here.
"""
