#!/usr/bin/env python3
"""Holds the Binance stub to what Binance's own SDK sends and parses.

Usage: binance_check.py BASE_URL KEY SECRET

Drives `stratus-broker-stub binance` (at BASE_URL) with the official `binance-sdk-spot`
clients -- the REST API client (base path BASE_URL), the WebSocket streams client
(ws://.../stream) and the WebSocket API client (ws://.../ws-api/v3) -- so every request is
signed by the SDK's own code (which the stub verifies) and every answer, stream message and
user data event is parsed into the SDK's pydantic models. The SDK does not fail on a
payload that does not fit its models: it logs a warning and relaxes or returns the raw
payload. So this check also fails on any such warning, and on any result that is not the
model it should be. Trades and quotes are printed through the stub's control routes
(/_stub/*). Exits non-zero on the first failed check.
"""

import asyncio
import json
import logging
import sys
import time
import urllib.request
import uuid
from decimal import Decimal

from binance_common.configuration import (
    ConfigurationRestAPI,
    ConfigurationWebSocketAPI,
    ConfigurationWebSocketStreams,
)
from binance_common.errors import BadRequestError, UnauthorizedError
from binance_sdk_spot.rest_api.models import (
    DeleteOrderResponse,
    ExchangeInfoResponse,
    GetAccountResponse,
    GetOpenOrdersResponse,
    GetOrderResponse,
    LotSizeFilter,
    MyTradesResponse,
    NewOrderResponse,
    NotionalFilter,
    OrderCancelReplaceResponse,
    PriceFilter,
    TimeResponse,
)
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api.models import (
    ExecutionReport,
    OutboundAccountPosition,
    UserDataStreamSubscribeSignatureResponse,
)
from binance_sdk_spot.websocket_api.models import TimeResponse as WsTimeResponse
from binance_sdk_spot.websocket_streams.models import BookTickerResponse, TradeResponse

WAIT = 15.0
SYMBOL = "BTCUSDT"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok   {what}")


class Drift(logging.Handler):
    """Every warning the SDK logs: a payload that did not fit its models shows up here."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


drift = Drift()
logging.getLogger().addHandler(drift)
logging.getLogger().setLevel(logging.WARNING)


def no_drift(what):
    if drift.messages:
        for message in drift.messages:
            print(f"     SDK warning: {message}")
    check(not drift.messages, f"{what}: parsed without a warning from the SDK")


def control(base, path, body):
    """POST a JSON body to one of the stub's control routes."""
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


def client_id():
    return uuid.uuid4().hex


def parsed(response, model, what):
    """The response's data, checked to be the SDK's model (not a raw payload)."""
    data = response.data()
    check(isinstance(data, model), f"{what} parses into {model.__name__}")
    return data


def expect_error(call, error, code, message, what):
    try:
        call()
    except error as e:
        check(
            e.status_code == code and e.error_message == message,
            f"{what}: {error.__name__} {code} {message!r} (got {e.status_code} {e.error_message!r})",
        )
        return
    raise AssertionError(f"{what}: no {error.__name__}")


def rest_checks(client, base, key):
    rest = client.rest_api
    rest.ping()
    server_time = parsed(rest.time(), TimeResponse, "time").server_time
    check(abs(server_time - time.time() * 1000) < 60_000, "the server time is now")

    info = parsed(rest.exchange_info(symbols=[SYMBOL, "ETHUSDT"]), ExchangeInfoResponse, "exchangeInfo")
    symbols = {s.symbol: s for s in info.symbols}
    check(set(symbols) == {SYMBOL, "ETHUSDT"}, "exchangeInfo lists the symbols asked for")
    btc = symbols[SYMBOL]
    check(btc.base_asset == "BTC" and btc.quote_asset == "USDT", "BTCUSDT is BTC against USDT")
    check({"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"} <= set(btc.order_types), "orderTypes")
    filters = [f.actual_instance for f in btc.filters]
    kinds = {type(f) for f in filters}
    check({PriceFilter, LotSizeFilter, NotionalFilter} <= kinds, f"filters parse into their models: {kinds}")
    no_drift("exchangeInfo")

    # A resting limit buy, by client id.
    limit_id = client_id()
    placed = parsed(
        rest.new_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
            quantity=0.5, price=100.5, new_client_order_id=limit_id, new_order_resp_type="FULL",
        ),
        NewOrderResponse,
        "a LIMIT new order (FULL)",
    )
    check(placed.client_order_id == limit_id and placed.status == "NEW", "the order is NEW under its client id")
    check(Decimal(placed.orig_qty) == Decimal("0.5") and Decimal(placed.price) == Decimal("100.5"), "its quantity and price")
    check(placed.fills == [], "no fills yet")

    found = parsed(rest.get_order(symbol=SYMBOL, orig_client_order_id=limit_id), GetOrderResponse, "query by origClientOrderId")
    check(found.order_id == placed.order_id and found.is_working, "the same order, working")

    open_orders = rest.get_open_orders(symbol=SYMBOL).data()
    check(isinstance(open_orders, GetOpenOrdersResponse) or isinstance(open_orders, list), "openOrders parses")
    listed = [o.client_order_id for o in open_orders] if isinstance(open_orders, list) else None
    check(listed == [limit_id], f"openOrders lists the one order: {listed}")
    no_drift("orders")

    expect_error(
        lambda: rest.new_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
            quantity=0.5, price=100.5, new_client_order_id=limit_id,
        ),
        BadRequestError, -2010, "Duplicate order sent.", "a duplicate client id",
    )
    expect_error(
        lambda: rest.get_order(symbol=SYMBOL, orig_client_order_id=client_id()),
        BadRequestError, -2013, "Order does not exist.", "an unknown order",
    )

    # Replace it (cancel + new) under a new client id.
    replacement_id = client_id()
    replaced = parsed(
        rest.order_cancel_replace(
            symbol=SYMBOL, side="BUY", type="LIMIT", cancel_replace_mode="STOP_ON_FAILURE",
            time_in_force="GTC", quantity=0.75, price=99.25,
            cancel_orig_client_order_id=limit_id, new_client_order_id=replacement_id,
            new_order_resp_type="RESULT",
        ),
        OrderCancelReplaceResponse,
        "cancelReplace",
    )
    check(replaced.cancel_result == "SUCCESS" and replaced.new_order_result == "SUCCESS", "both halves succeed")
    check(replaced.cancel_response.status == "CANCELED", "the old order is cancelled")
    check(replaced.new_order_response.client_order_id == replacement_id, "the new one has the new client id")
    try:
        rest.order_cancel_replace(
            symbol=SYMBOL, side="BUY", type="LIMIT", cancel_replace_mode="STOP_ON_FAILURE",
            time_in_force="GTC", quantity=1, price=99, cancel_orig_client_order_id=limit_id,
        )
        raise AssertionError("a cancelReplace of a cancelled order succeeded")
    except BadRequestError as e:
        check(e.status_code == -2022, f"cancelReplace of a cancelled order: -2022 ({e.error_message})")

    cancelled = parsed(rest.delete_order(symbol=SYMBOL, orig_client_order_id=replacement_id), DeleteOrderResponse, "cancel")
    check(cancelled.status == "CANCELED" and cancelled.orig_client_order_id == replacement_id, "cancelled")
    expect_error(
        lambda: rest.delete_order(symbol=SYMBOL, orig_client_order_id=replacement_id),
        BadRequestError, -2011, "Unknown order sent.", "cancelling it again",
    )
    no_drift("replace and cancel")

    # A market buy, filled by a trade printed at the stub.
    market_id = client_id()
    market = parsed(
        rest.new_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity=0.25, new_client_order_id=market_id),
        NewOrderResponse,
        "a MARKET new order",
    )
    check(market.type == "MARKET", "a market order")
    control(base, "/_stub/trade", {"symbol": SYMBOL, "price": "101.5", "qty": "1"})
    filled = parsed(rest.get_order(symbol=SYMBOL, order_id=market.order_id), GetOrderResponse, "query by orderId")
    check(filled.status == "FILLED" and Decimal(filled.executed_qty) == Decimal("0.25"), "filled by the trade")
    trades = rest.my_trades(symbol=SYMBOL, order_id=market.order_id).data()
    check(isinstance(trades, MyTradesResponse) or isinstance(trades, list), "myTrades parses")
    check([Decimal(t.price) for t in trades] == [Decimal("101.5")], "one trade at the printed price")

    account = parsed(rest.get_account(omit_zero_balances=True), GetAccountResponse, "account")
    balances = {b.asset: Decimal(b.free) + Decimal(b.locked) for b in account.balances}
    check(balances.get("BTC") == Decimal("10.25"), f"the BTC balance moved: {balances}")
    check(balances.get("USDT") == Decimal("100000") - Decimal("25.375"), "and the USDT balance")
    no_drift("market order and account")

    # The SDK's signature, with the wrong secret or key.
    bad_secret = Spot(config_rest_api=ConfigurationRestAPI(api_key=key, api_secret="wrong", base_path=base, retries=0))
    expect_error(
        lambda: bad_secret.rest_api.get_account(),
        BadRequestError, -1022, "Signature for this request is not valid.", "a wrong secret",
    )
    bad_key = Spot(config_rest_api=ConfigurationRestAPI(api_key="nobody", api_secret="wrong", base_path=base, retries=0))
    expect_error(
        lambda: bad_key.rest_api.get_account(),
        UnauthorizedError, -2015, "Invalid API-key, IP, or permissions for action.", "an unknown key",
    )


async def next_matching(events, what, pick):
    deadline = time.monotonic() + WAIT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            warnings = "; ".join(drift.messages) or "none"
            raise AssertionError(f"timed out waiting for {what} (SDK warnings: {warnings})")
        try:
            item = await asyncio.wait_for(events.get(), timeout=left)
        except asyncio.TimeoutError:
            continue
        if pick(item):
            return item


async def market_stream_checks(client, base):
    streams = await client.websocket_streams.create_connection()
    try:
        await market_streams(streams, base)
    finally:
        await streams.close_connection()
    no_drift("market streams")


async def market_streams(streams, base):
    trades, books = asyncio.Queue(), asyncio.Queue()
    trade = await streams.trade(symbol=SYMBOL)
    trade.on("message", trades.put_nowait)
    book = await streams.book_ticker(symbol=SYMBOL)
    book.on("message", books.put_nowait)
    # The SDK does not wait for its SUBSCRIBE answers; this is answered after them.
    listed = await streams.list_subscribe()
    check({"btcusdt@trade", "btcusdt@bookTicker"} <= set(listed["result"]), f"subscribed: {listed['result']}")

    await asyncio.to_thread(
        control, base, "/_stub/quote",
        {"symbol": SYMBOL, "bid": "99.5", "bidQty": "2", "ask": "100.5", "askQty": "3"},
    )
    await asyncio.to_thread(control, base, "/_stub/trade", {"symbol": SYMBOL, "price": "100", "qty": "0.125"})
    quote = await next_matching(books, "a book ticker", lambda _: True)
    check(isinstance(quote, BookTickerResponse), "bookTicker parses into BookTickerResponse")
    check((Decimal(quote.b), Decimal(quote.a)) == (Decimal("99.5"), Decimal("100.5")), "the best bid and ask")
    printed = await next_matching(trades, "a trade", lambda _: True)
    check(isinstance(printed, TradeResponse), "trade parses into TradeResponse")
    check(printed.e == "trade" and printed.s == SYMBOL, "a BTCUSDT trade event")
    check((Decimal(printed.p), Decimal(printed.q)) == (Decimal("100"), Decimal("0.125")), "its price and quantity")


async def user_data_checks(client, base):
    api = await client.websocket_api.create_connection()
    try:
        await user_data(client, api, base)
    finally:
        await api.close_connection()
    no_drift("user data stream")


async def user_data(client, api, base):
    now = (await api.time()).data()
    check(isinstance(now, WsTimeResponse) and now.status == 200, "WebSocket API time")
    subscribed = await api.user_data_stream_subscribe_signature()
    answer = subscribed.response.data()
    check(isinstance(answer, UserDataStreamSubscribeSignatureResponse), "the subscription answer parses")
    check(answer.result.subscription_id == 0, "subscription 0")
    events = asyncio.Queue()
    subscribed.stream.on("message", events.put_nowait)

    order_id = client_id()
    await asyncio.to_thread(
        client.rest_api.new_order,
        symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC",
        quantity=1, price=120, new_client_order_id=order_id,
    )

    def report(execution):
        def pick(event):
            e = event.actual_instance
            return isinstance(e, ExecutionReport) and e.c == order_id and e.x == execution
        return pick

    new = (await next_matching(events, "executionReport NEW", report("NEW"))).actual_instance
    check(new.X == "NEW" and new.S == "SELL" and new.o == "LIMIT", "executionReport NEW parses into ExecutionReport")
    position = await next_matching(
        events, "outboundAccountPosition", lambda e: isinstance(e.actual_instance, OutboundAccountPosition)
    )
    assets = {b.a for b in position.actual_instance.B}
    check("BTC" in assets, f"outboundAccountPosition parses, with the locked BTC: {assets}")

    await asyncio.to_thread(control, base, "/_stub/trade", {"symbol": SYMBOL, "price": "120.5", "qty": "0.4"})
    partial = (await next_matching(events, "executionReport TRADE", report("TRADE"))).actual_instance
    check(partial.X == "PARTIALLY_FILLED", "a partial fill")
    check((Decimal(partial.l), Decimal(partial.L), Decimal(partial.z)) == (Decimal("0.4"), Decimal("120.5"), Decimal("0.4")), "l, L, z")
    check(Decimal(partial.Z) == Decimal("48.2"), "Z: the quote amount so far")
    await asyncio.to_thread(control, base, "/_stub/trade", {"symbol": SYMBOL, "price": "121", "qty": "5"})
    fill = (await next_matching(events, "the last executionReport TRADE", report("TRADE"))).actual_instance
    check(fill.X == "FILLED" and Decimal(fill.z) == Decimal("1"), "filled")

    # A cancel reports the original client id in C.
    cancel_id = client_id()
    await asyncio.to_thread(
        client.rest_api.new_order,
        symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
        quantity=1, price=50, new_client_order_id=cancel_id,
    )
    await asyncio.to_thread(client.rest_api.delete_order, symbol=SYMBOL, orig_client_order_id=cancel_id)
    cancelled = (
        await next_matching(
            events, "executionReport CANCELED",
            lambda e: isinstance(e.actual_instance, ExecutionReport) and e.actual_instance.x == "CANCELED",
        )
    ).actual_instance
    check(cancelled.C == cancel_id and cancelled.X == "CANCELED", "CANCELED names the order in C")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    base, key, secret = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    ws = "ws" + base[len("http"):]
    client = Spot(
        config_rest_api=ConfigurationRestAPI(api_key=key, api_secret=secret, base_path=base, retries=0, timeout=5000),
        config_ws_api=ConfigurationWebSocketAPI(api_key=key, api_secret=secret, stream_url=ws + "/ws-api/v3"),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=ws),
    )
    rest_checks(client, base, key)
    asyncio.run(market_stream_checks(client, base))
    asyncio.run(user_data_checks(client, base))
    print(f"binance: {checks} checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as failure:
        print(f"FAIL {failure}")
        sys.exit(1)
