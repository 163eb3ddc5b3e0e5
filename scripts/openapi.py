"""Writes functions/openapi.json, the OpenAPI 3.1 document of Stratus's HTTP API.

Run `python3 scripts/openapi.py > functions/openapi.json` after changing a route; the
api-tests package fails while the document and the routers disagree.
"""
import json
D = {"type": "string", "description": "A decimal number as a string (exact), e.g. \"10.25\"."}
DIn = {"oneOf": [{"type": "string"}, {"type": "number"}], "description": "A decimal: a string (exact, preferred) or a number."}
T = {"type": "string", "format": "date-time"}
ID = {"type": "string", "format": "uuid"}
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def obj(props, required=None, extra=False, desc=None):
    o = {"type": "object", "properties": props, "additionalProperties": extra}
    if required: o["required"] = required
    if desc: o["description"] = desc
    return o
def nullable(s): return {"oneOf": [s, {"type": "null"}]}

schemas = {
 "Problem": obj({"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
   "errors": {"type": "array", "items": obj({"field": {"type": "string"}, "message": {"type": "string"}}, ["field", "message"])}},
   ["type", "title", "status", "detail"], desc="RFC 9457 problem details; `errors` names each invalid field."),
 "Role": {"type": "string", "enum": ["trader", "admin"]},
 "User": obj({"id": ID, "email": {"type": "string"}, "role": ref("Role"), "created_at": T}, ["id", "email", "role", "created_at"]),
 "Me": {"allOf": [ref("User"), obj({"authenticated_by": {"type": "string", "enum": ["access_token", "api_key"]}}, ["authenticated_by"], extra=True)]},
 "Register": obj({"email": {"type": "string", "maxLength": 254}, "password": {"type": "string", "minLength": 12, "maxLength": 128}}, ["email", "password"]),
 "Login": obj({"email": {"type": "string"}, "password": {"type": "string"}}, ["email", "password"]),
 "RefreshToken": obj({"refresh_token": {"type": "string"}}, ["refresh_token"]),
 "TokenPair": obj({"access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]}, "expires_in": {"type": "integer"},
   "refresh_token": {"type": "string"}, "refresh_expires_in": {"type": "integer"}}, ["access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"]),
 "CreateApiKey": obj({"name": {"type": "string", "minLength": 1, "maxLength": 64}}, ["name"]),
 "ApiKey": obj({"key_id": {"type": "string"}, "name": {"type": "string"}, "prefix": {"type": "string"}, "created_at": T, "revoked": {"type": "boolean"}}, ["key_id", "name", "prefix", "created_at", "revoked"]),
 "CreatedApiKey": {"allOf": [ref("ApiKey"), obj({"key": {"type": "string", "description": "The key itself, shown this once."}}, ["key"], extra=True)]},
 "ApiKeyList": obj({"api_keys": {"type": "array", "items": ref("ApiKey")}}, ["api_keys"]),
 "SetRole": obj({"role": ref("Role")}, ["role"]),
 "CreateAccount": obj({"name": {"type": "string", "minLength": 1, "maxLength": 64}, "base_currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "default": "USD"},
   "kind": {"type": "string", "enum": ["paper"], "default": "paper"}}, ["name"]),
 "Account": obj({"id": ID, "name": {"type": "string"}, "kind": {"type": "string", "enum": ["paper", "broker"]}, "base_currency": {"type": "string"}, "cash": D, "created_at": T},
   ["id", "name", "kind", "base_currency", "cash", "created_at"]),
 "AccountList": obj({"accounts": {"type": "array", "items": ref("Account")}}, ["accounts"]),
 "Balances": obj({k: D for k in ["cash", "reserved", "buying_power", "positions_value", "equity", "unrealized_pnl", "realized_pnl", "fees", "day_pnl"]} | {"account_id": ID, "currency": {"type": "string"}, "as_of": T},
   ["account_id", "currency", "cash", "reserved", "buying_power", "positions_value", "equity", "unrealized_pnl", "realized_pnl", "fees", "day_pnl", "as_of"]),
 "Position": obj({"symbol": {"type": "string"}, "quantity": D, "average_price": D, "mark": D, "mark_source": {"type": "string", "enum": ["last_trade", "average_cost"]},
   "market_value": D, "unrealized_pnl": D, "realized_pnl": D, "fees": D}, ["symbol", "quantity", "average_price", "mark", "mark_source", "market_value", "unrealized_pnl", "realized_pnl", "fees"]),
 "PositionList": obj({"positions": {"type": "array", "items": ref("Position")}}, ["positions"]),
 "CashMovement": obj({"amount": DIn, "reference": {"type": "string", "maxLength": 200}}, ["amount"]),
 "LedgerEntry": obj({"id": ID, "kind": {"type": "string"}, "amount": D, "balance_after": D, "reference": {"type": "string"}, "time": T}, ["id", "kind", "amount", "balance_after", "reference", "time"]),
 "LedgerPage": obj({"entries": {"type": "array", "items": ref("LedgerEntry")}}, ["entries"]),
 "RiskLimitsInput": obj({"max_order_notional": nullable(DIn), "max_position": nullable(DIn), "max_position_by_symbol": {"type": "object", "additionalProperties": DIn},
   "max_daily_loss": nullable(DIn)}, desc="Replaces every limit; an absent or null limit is no limit."),
 "RiskLimits": obj({"max_order_notional": nullable(D), "max_position": nullable(D), "max_position_by_symbol": {"type": "object", "additionalProperties": D},
   "max_daily_loss": nullable(D), "day_pnl": D, "halted": {"type": "boolean"},
   "halt": nullable(obj({"reason": {"type": "string"}, "since": T}, ["reason", "since"]))},
   ["max_order_notional", "max_position", "max_position_by_symbol", "max_daily_loss", "day_pnl", "halted", "halt"]),
 "CreateBrokerConnection": obj({"broker": {"type": "string", "enum": ["alpaca", "interactive_brokers", "binance", "coinbase"]}, "label": {"type": "string", "maxLength": 64},
   "credentials": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 4096}, "minProperties": 1, "maxProperties": 10}}, ["broker", "credentials"]),
 "BrokerConnection": obj({"id": {"type": "string"}, "broker": {"type": "string"}, "label": {"type": "string"}, "credential_fields": {"type": "array", "items": {"type": "string"}}, "created_at": T},
   ["id", "broker", "label", "credential_fields", "created_at"], desc="Credentials are stored sealed and never returned."),
 "BrokerConnectionList": obj({"connections": {"type": "array", "items": ref("BrokerConnection")}}, ["connections"]),
 "PlaceOrder": obj({"symbol": {"type": "string"}, "side": {"type": "string", "enum": ["buy", "sell"]}, "type": {"type": "string", "enum": ["market", "limit", "stop", "stop_limit"]},
   "quantity": DIn, "limit_price": DIn, "stop_price": DIn, "time_in_force": {"type": "string", "enum": ["gtc", "ioc", "fok", "day"], "description": "Default gtc; ioc for market orders."},
   "client_order_id": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]+$", "description": "Idempotency key per account: the same body again returns the original order (200); another body is a 409."}},
   ["symbol", "side", "type", "quantity"]),
 "AmendOrder": obj({"quantity": DIn, "limit_price": DIn, "stop_price": DIn}, desc="At least one field. A lower quantity keeps time priority; a new price loses it."),
 "OrderStatus": {"type": "string", "enum": ["new", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]},
 "Order": obj({"id": ID, "client_order_id": nullable({"type": "string"}), "account_id": ID, "symbol": {"type": "string"}, "side": {"type": "string", "enum": ["buy", "sell"]},
   "type": {"type": "string", "enum": ["market", "limit", "stop", "stop_limit"]}, "limit_price": D, "stop_price": D, "time_in_force": {"type": "string", "enum": ["gtc", "ioc", "fok", "day"]},
   "quantity": D, "filled_quantity": D, "remaining_quantity": D, "average_fill_price": nullable(D), "status": ref("OrderStatus"), "reason": nullable({"type": "string"}),
   "created_at": T, "updated_at": T},
   ["id", "client_order_id", "account_id", "symbol", "side", "type", "time_in_force", "quantity", "filled_quantity", "remaining_quantity", "average_fill_price", "status", "reason", "created_at", "updated_at"]),
 "OrderPage": obj({"orders": {"type": "array", "items": ref("Order")}, "next_cursor": {"type": "string"}}, ["orders"]),
 "OrderRequested": obj({"order": ref("Order"), "requested": {"type": "string", "enum": ["cancel", "amend"]}}, ["order", "requested"]),
 "Fill": obj({"order_id": ID, "trade_id": {"type": "integer"}, "symbol": {"type": "string"}, "side": {"type": "string", "enum": ["buy", "sell"]}, "price": D, "quantity": D, "fee": D,
   "liquidity": {"type": "string"}, "time": T}, ["order_id", "trade_id", "symbol", "side", "price", "quantity", "fee", "liquidity", "time"]),
 "FillList": obj({"fills": {"type": "array", "items": ref("Fill")}}, ["fills"]),
 "Instrument": obj({"symbol": {"type": "string"}, "tick_size": D, "lot_size": D, "min_quantity": D, "currency": {"type": "string"}, "last_price": nullable(D)},
   ["symbol", "tick_size", "lot_size", "min_quantity", "currency", "last_price"]),
 "InstrumentList": obj({"instruments": {"type": "array", "items": ref("Instrument")}}, ["instruments"]),
 "DeployStrategy": obj({"strategy": {"type": "string", "enum": ["sma_cross", "ema_cross", "rsi_reversion", "macd_trend", "bollinger_breakout"]},
   "symbols": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20},
   "timeframes": {"type": "array", "items": {"type": "string", "examples": ["1m", "5m", "1h", "1d"]}, "minItems": 1, "maxItems": 6, "description": "The first is the one the strategy trades on."},
   "params": {"type": "object", "description": "The strategy's parameters (see README), checked at deployment."}}, ["strategy", "symbols", "timeframes"]),
 "Strategy": obj({"id": ID, "account_id": ID, "strategy": {"type": "string"}, "symbols": {"type": "array", "items": {"type": "string"}},
   "timeframes": {"type": "array", "items": {"type": "string"}}, "params": {"type": "object"}, "status": {"type": "string", "enum": ["running", "paused", "stopped"]}, "created_at": T},
   ["id", "account_id", "strategy", "symbols", "timeframes", "params", "status", "created_at"]),
 "StrategyList": obj({"strategies": {"type": "array", "items": ref("Strategy")}}, ["strategies"]),
 "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded", "stopped"]}, "batches": {"type": "integer"}, "inputs": {"type": "integer"}, "fills": {"type": "integer"},
   "commit_failures": {"type": "integer"}, "malformed_records": {"type": "integer"}, "working_orders": {"type": "integer"}, "last_commit_unix_ms": {"type": "integer"}},
   ["status", "batches", "inputs", "fills", "commit_failures", "malformed_records", "working_orders", "last_commit_unix_ms"]),
 "PerformanceReport": obj({"account_id": ID, "currency": {"type": "string"}, "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}, "as_of": T,
   "equity_curve": {"type": "array", "items": obj({"time": T, "equity": D, "exposed": {"type": "boolean"}}, ["time", "equity", "exposed"])},
   "round_trips": {"type": "integer"},
   "metrics": nullable({"type": "object", "description": "The analytics metrics: total_return, cagr, volatility, sharpe, sortino, max_drawdown, calmar, win_rate, profit_factor, expectancy, … (ratios are null when undefined)."}),
   "metrics_unavailable": {"type": "string"},
   "running": {"type": "object", "description": "Running totals kept by the executions handler: fills, volume, notional, fees, realized_pnl, round_trips, wins, losses, win_rate, profit_factor, …"}},
   ["account_id", "currency", "from", "to", "as_of", "equity_curve", "round_trips", "metrics", "running"], extra=True),
}

def problem(desc): return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}
def js(schema, desc="OK"): return {"description": desc, "content": {"application/json": {"schema": ref(schema) if isinstance(schema, str) else schema}}}
def body(schema): return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}
def path_param(name, desc): return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": desc}
def q(name, schema, desc): return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
ACC = path_param("account_id", "An account of the caller (another user's is a 404).")
ORD = path_param("order_id", "An order of the caller (another user's is a 404).")
common_err = {"401": problem("Not authenticated"), "404": problem("Unknown, or not the caller's"), "429": problem("Rate limited"), "503": problem("A backend is unavailable; retry")}
def op(op_id, summary, tag, responses, params=None, req=None, public=False, errors=None):
    o = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": dict(responses)}
    if params: o["parameters"] = params
    if req: o["requestBody"] = body(req)
    if public: o["security"] = []
    for code, resp in (errors or {}).items(): o["responses"][code] = resp
    if not public:
        for code in ["401", "404"]:
            o["responses"].setdefault(code, common_err[code])
    o["responses"].setdefault("503", common_err["503"])
    if req:
        o["responses"].setdefault("400", problem("Malformed JSON"))
        o["responses"].setdefault("413", problem("Body too large"))
        o["responses"].setdefault("415", problem("Not JSON"))
        o["responses"].setdefault("422", problem("Invalid fields (each named)"))
    return o
window = [q("from", {"type": "string", "format": "date"}, "First day (default: a year before `to`)."), q("to", {"type": "string", "format": "date"}, "Last day (default: today, UTC).")]
paths = {
 "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "tags": ["meta"], "security": [], "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
 "/auth/register": {"post": op("register", "Register a user", "auth", {"201": js("User", "Registered")}, req="Register", public=True, errors={"409": problem("Email already registered")})},
 "/auth/login": {"post": op("login", "Log in: an access token (15 min) and a refresh token", "auth", {"200": js("TokenPair")}, req="Login", public=True,
    errors={"401": problem("Invalid credentials, or locked after too many failures (generic; Retry-After when locked)"), "429": problem("Too many logins from this IP")})},
 "/auth/refresh": {"post": op("refresh", "Exchange a refresh token for a new pair (rotation; reuse revokes the login)", "auth", {"200": js("TokenPair")}, req="RefreshToken", public=True,
    errors={"401": problem("Invalid, expired, revoked or reused")})},
 "/auth/logout": {"post": op("logout", "Revoke the login a refresh token belongs to", "auth", {"204": {"description": "Logged out"}}, req="RefreshToken", public=True)},
 "/auth/me": {"get": op("me", "The caller", "auth", {"200": js("Me")})},
 "/auth/api-keys": {
    "post": op("createApiKey", "Create an API key (shown once; access token required)", "auth", {"201": js("CreatedApiKey", "Created")}, req="CreateApiKey", errors={"403": problem("Managed with an access token only")}),
    "get": op("listApiKeys", "The caller's API keys", "auth", {"200": js("ApiKeyList")}, errors={"403": problem("Managed with an access token only")})},
 "/auth/api-keys/{key_id}": {"delete": op("revokeApiKey", "Revoke an API key", "auth", {"204": {"description": "Revoked"}}, params=[path_param("key_id", "The key's id")], errors={"403": problem("Managed with an access token only")})},
 "/auth/users/{user_id}/role": {"put": op("setRole", "Change a user's role (admins)", "auth", {"200": js("User")}, params=[path_param("user_id", "A user id")], req="SetRole",
    errors={"403": problem("Admins only"), "409": problem("An admin cannot demote themselves")})},
 "/accounts": {
    "post": op("createAccount", "Open a paper account", "account", {"201": js("Account", "Created")}, req="CreateAccount"),
    "get": op("listAccounts", "The caller's accounts", "account", {"200": js("AccountList")})},
 "/accounts/{account_id}": {"get": op("getAccount", "One account", "account", {"200": js("Account")}, params=[ACC])},
 "/accounts/{account_id}/balances": {"get": op("getBalances", "Cash, reserved cash, buying power, equity and P&L", "account", {"200": js("Balances")}, params=[ACC])},
 "/accounts/{account_id}/positions": {"get": op("getPositions", "Positions at their marks", "account", {"200": js("PositionList")}, params=[ACC])},
 "/accounts/{account_id}/ledger": {"get": op("getLedger", "Cash movements, newest first", "account", {"200": js("LedgerPage")}, params=[ACC, q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Default 100.")],
    errors={"400": problem("Bad query")})},
 "/accounts/{account_id}/deposits": {"post": op("deposit", "Deposit paper cash (Idempotency-Key honoured)", "account", {"201": js("LedgerEntry", "Posted")},
    params=[ACC, {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128}}], req="CashMovement", errors={"409": problem("Idempotency-Key reused for a different request")})},
 "/accounts/{account_id}/withdrawals": {"post": op("withdraw", "Withdraw paper cash (at most the buying power)", "account", {"201": js("LedgerEntry", "Posted")},
    params=[ACC, {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128}}], req="CashMovement", errors={"409": problem("Idempotency-Key reused for a different request")})},
 "/accounts/{account_id}/risk-limits": {
    "get": op("getRiskLimits", "Risk limits, today's P&L and any halt", "account", {"200": js("RiskLimits")}, params=[ACC]),
    "put": op("setRiskLimits", "Replace the risk limits", "account", {"200": js("RiskLimits")}, params=[ACC], req="RiskLimitsInput")},
 "/accounts/{account_id}/broker-connections": {
    "get": op("listBrokerConnections", "Broker connections (credentials never returned)", "account", {"200": js("BrokerConnectionList")}, params=[ACC]),
    "post": op("createBrokerConnection", "Attach an external broker's credentials (stored sealed)", "account", {"201": js("BrokerConnection", "Created")}, params=[ACC], req="CreateBrokerConnection")},
 "/accounts/{account_id}/broker-connections/{connection_id}": {"delete": op("deleteBrokerConnection", "Remove a broker connection", "account", {"204": {"description": "Removed"}}, params=[ACC, path_param("connection_id", "The connection's id")])},
 "/accounts/{account_id}/orders": {
    "post": op("placeOrder", "Place an order", "orders", {"201": js("Order", "Submitted (status new; the core acknowledges it)"), "200": js("Order", "The same client_order_id and body again: the original order")},
       params=[ACC], req="PlaceOrder", errors={"409": problem("client_order_id used for a different order"),
       "422": problem("Invalid fields, or refused by a pre-trade check: account-halted, order-notional-limit, position-limit, insufficient-buying-power, insufficient-position, no-market-price")}),
    "get": op("listOrders", "The account's orders, newest first", "orders", {"200": js("OrderPage")}, params=[ACC, q("status", ref("OrderStatus"), "Only orders in this state."),
       q("symbol", {"type": "string"}, "Only this symbol."), q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Default 50."), q("cursor", {"type": "string"}, "`next_cursor` of the previous page.")],
       errors={"400": problem("Bad query")})},
 "/accounts/{account_id}/fills": {"get": op("listFills", "The account's latest fills", "orders", {"200": js("FillList")}, params=[ACC, q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Default 100.")], errors={"400": problem("Bad query")})},
 "/orders/{order_id}": {
    "get": op("getOrder", "One order", "orders", {"200": js("Order")}, params=[ORD]),
    "delete": op("cancelOrder", "Request a cancel", "orders", {"202": js("OrderRequested", "Requested; the core confirms with order.cancelled")}, params=[ORD], errors={"409": problem("The order no longer works")}),
    "patch": op("amendOrder", "Request an amend", "orders", {"202": js("OrderRequested", "Requested; the core confirms with order.amended")}, params=[ORD], req="AmendOrder", errors={"409": problem("The order no longer works")})},
 "/instruments": {"get": op("listInstruments", "Tradable instruments", "orders", {"200": js("InstrumentList")})},
 "/accounts/{account_id}/strategies": {
    "post": op("deployStrategy", "Deploy a strategy (running in the core within a second)", "strategies", {"201": js("Strategy", "Deployed")}, params=[ACC], req="DeployStrategy"),
    "get": op("listStrategies", "The account's deployments", "strategies", {"200": js("StrategyList")}, params=[ACC])},
 "/strategies/{strategy_id}": {"get": op("getStrategy", "One deployment", "strategies", {"200": js("Strategy")}, params=[path_param("strategy_id", "A deployment of the caller")])},
 "/strategies/{strategy_id}/pause": {"post": op("pauseStrategy", "Pause (indicators keep updating; no orders)", "strategies", {"200": js("Strategy")}, params=[path_param("strategy_id", "A deployment of the caller")], errors={"409": problem("Stopped")})},
 "/strategies/{strategy_id}/resume": {"post": op("resumeStrategy", "Resume", "strategies", {"200": js("Strategy")}, params=[path_param("strategy_id", "A deployment of the caller")], errors={"409": problem("Stopped")})},
 "/strategies/{strategy_id}/stop": {"post": op("stopStrategy", "Stop for good (its working orders are cancelled)", "strategies", {"200": js("Strategy")}, params=[path_param("strategy_id", "A deployment of the caller")])},
 "/health": {"get": {"operationId": "health", "summary": "The streaming core's health (stratus up and the core container)", "tags": ["meta"], "security": [], "responses": {"200": js("Health"), "503": js("Health", "The core cannot commit")}}},
 "/ws": {"get": {"operationId": "websocket", "summary": "WebSocket: ticks and candles by symbol; the caller's orders, fills and positions", "tags": ["meta"],
    "description": "Upgrade to a WebSocket (authenticate with a bearer token, an API key, or ?access_token=). Send {\"op\":\"subscribe\",\"channel\":\"ticks|candles|orders|fills|positions\",\"symbol\":…,\"timeframe\":…}; receive {\"channel\":…,\"data\":…}.",
    "parameters": [q("access_token", {"type": "string"}, "For browsers, which cannot set headers on a WebSocket.")],
    "responses": {"101": {"description": "Switching to the WebSocket protocol"}, "401": problem("Not authenticated")}}},
 "/accounts/{account_id}/reports/performance": {"get": op("getPerformance", "Performance metrics and the daily equity curve", "reports", {"200": js("PerformanceReport")}, params=[ACC] + window, errors={"400": problem("Bad window")})},
 "/accounts/{account_id}/reports/equity.svg": {"get": op("getEquitySvg", "The equity and drawdown chart", "reports", {"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}}, params=[ACC] + window, errors={"400": problem("Bad window")})},
}
doc = {
 "openapi": "3.1.0",
 "info": {"title": "Stratus", "version": "0.1.0", "description": "The Stratus trading platform's HTTP API: auth, accounts, orders and reports. Decimals are strings; times are RFC 3339 UTC; errors are RFC 9457 problem documents naming each invalid field. A user only ever sees their own data: another user's ids answer 404.", "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
 "servers": [{"url": "http://127.0.0.1:8080", "description": "stratus up"}],
 "security": [{"bearerAuth": []}, {"apiKey": []}],
 "tags": [{"name": n} for n in ["auth", "account", "orders", "strategies", "reports", "meta"]],
 "paths": paths,
 "components": {"schemas": schemas, "securitySchemes": {
   "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token from /auth/login (HS256, 15 minutes)."},
   "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An API key from /auth/api-keys (also accepted as `Authorization: ApiKey <key>`)."}}},
}
print(json.dumps(doc, indent=2))
