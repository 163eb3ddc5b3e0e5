#!/usr/bin/env python3
"""Holds the Alpaca stub to what Alpaca's own SDK sends and parses.

Usage: alpaca_check.py BASE_URL [KEY SECRET]

Drives `stratus-broker-stub alpaca` (at BASE_URL) with alpaca-py's clients -- TradingClient,
TradingStream and StockDataStream -- so every answer, event and market-data message is
parsed into alpaca-py's pydantic models. A stub that drifts from Alpaca's shapes fails
here. Trades and quotes are printed through the stub's control routes (/_stub/*).
Exits non-zero on the first failed check.
"""

import json
import queue
import sys
import threading
import time
import urllib.request
import uuid

from alpaca.common.exceptions import APIError
from alpaca.data.live import StockDataStream
from alpaca.data.models import Quote, Trade
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce, TradeEvent
from alpaca.trading.models import Order, Position, TradeAccount, TradeUpdate
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)
from alpaca.trading.stream import TradingStream

WAIT = 15.0
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok   {what}")


def control(base, path, body=None):
    """POST (with a JSON body) or GET one of the stub's control routes."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
        return json.loads(text) if text else None


def wait_until(what, condition):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def next_matching(events, what, pick):
    """The first item of a queue that `pick` accepts, within WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}")
        try:
            item = events.get(timeout=left)
        except queue.Empty:
            continue
        if pick(item):
            return item


def main():
    if len(sys.argv) not in (2, 4):
        print(__doc__)
        return 2
    base = sys.argv[1].rstrip("/")
    key, secret = (sys.argv[2], sys.argv[3]) if len(sys.argv) == 4 else ("stub-key", "stub-secret")
    ws_base = "ws" + base[len("http"):]

    client = TradingClient(key, secret, paper=True, url_override=base)

    # --- account, credentials ---------------------------------------------------------
    account = client.get_account()
    check(isinstance(account, TradeAccount), "get_account parses into TradeAccount")
    check(float(account.cash) > 0 and account.currency == "USD", "the account has USD cash")
    try:
        TradingClient(key, "wrong-secret", paper=True, url_override=base).get_account()
        check(False, "a wrong secret is refused")
    except APIError as e:
        check(e.status_code == 401 and e.code == 40110000, f"a wrong secret is a 401 with code 40110000 ({e.message})")

    # --- the streams, subscribed before anything happens -----------------------------
    updates = queue.Queue()
    market = queue.Queue()

    async def on_update(update):
        updates.put(update)

    async def on_market(item):
        market.put(item)

    trading_stream = TradingStream(key, secret, paper=True, url_override=ws_base + "/stream")
    trading_stream.subscribe_trade_updates(on_update)
    data_stream = StockDataStream(key, secret, url_override=ws_base + "/v2/iex")
    data_stream.subscribe_trades(on_market, "AAPL")
    data_stream.subscribe_quotes(on_market, "AAPL")
    threading.Thread(target=trading_stream.run, daemon=True).start()
    threading.Thread(target=data_stream.run, daemon=True).start()
    wait_until("both streams to subscribe", lambda: (lambda c: c["trade_updates"] >= 1 and c["market_data"] >= 1)(control(base, "/_stub/connections")))
    check(True, "TradingStream and StockDataStream (msgpack) authenticate and subscribe")

    # --- orders ----------------------------------------------------------------------
    run = uuid.uuid4().hex[:8]
    market_id, limit_id = f"check-{run}-mkt", f"check-{run}-lmt"
    market_order = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=market_id)
    )
    check(isinstance(market_order, Order) and market_order.client_order_id == market_id, "submit_order (market) parses into Order")
    limit_order = client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=50.25, client_order_id=limit_id)
    )
    check(limit_order.limit_price in ("50.25", 50.25) and limit_order.status == OrderStatus.NEW, "submit_order (limit) keeps its limit price")
    new_event = next_matching(updates, "the limit order's new event", lambda u: u.order.client_order_id == limit_id)
    check(isinstance(new_event, TradeUpdate) and new_event.event == TradeEvent.NEW, "a new event parses into TradeUpdate")

    try:
        client.submit_order(
            LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=10, client_order_id=limit_id)
        )
        check(False, "a reused client_order_id is refused")
    except APIError as e:
        check(e.status_code == 422 and e.code == 40010001, f"a reused client_order_id raises APIError 422/40010001 ({e.message})")

    by_client = client.get_order_by_client_id(limit_id)
    check(by_client.id == limit_order.id, "get_order_by_client_id finds the order")
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=100, nested=True))
    open_ids = {o.id for o in open_orders}
    check({market_order.id, limit_order.id} <= open_ids, "get_orders(status=open) lists both working orders")

    # --- a fill, on the trade_updates stream and the data stream ----------------------
    control(base, "/_stub/quote", {"symbol": "AAPL", "bid": "99.5", "ask": "100.5"})
    control(base, "/_stub/trade", {"symbol": "AAPL", "price": "100", "qty": "10"})
    fill = next_matching(updates, "the market order's fill", lambda u: u.order.client_order_id == market_id and u.event == TradeEvent.FILL)
    check(fill.execution_id is not None and fill.price == 100 and fill.qty == 2 and fill.position_qty == 2, "a fill event carries execution_id, price, qty and position_qty")
    check(fill.order.status == OrderStatus.FILLED and float(fill.order.filled_avg_price) == 100, "the fill event's order is filled at 100")
    quote = next_matching(market, "a quote", lambda m: isinstance(m, Quote))
    check(quote.symbol == "AAPL" and quote.bid_price == 99.5 and quote.ask_price == 100.5, "a quote parses into Quote (msgpack, timestamp extension)")
    trade = next_matching(market, "a trade", lambda m: isinstance(m, Trade))
    check(trade.symbol == "AAPL" and trade.price == 100 and trade.size == 10 and trade.timestamp is not None, "a trade parses into Trade")

    # --- replace and cancel -------------------------------------------------------------
    replaced_id = f"{limit_id}-1"
    replacement = client.replace_order_by_id(limit_order.id, ReplaceOrderRequest(qty=4, limit_price=55, client_order_id=replaced_id))
    check(replacement.replaces == limit_order.id and replacement.client_order_id == replaced_id, "replace_order_by_id answers a new order that replaces the old")
    old = client.get_order_by_id(limit_order.id)
    check(old.status == OrderStatus.REPLACED and old.replaced_by == replacement.id, "the old order is replaced, replaced_by the new")
    next_matching(updates, "the replaced event", lambda u: u.event == TradeEvent.REPLACED and u.order.id == limit_order.id)
    check(True, "a replaced event parses")
    client.cancel_order_by_id(replacement.id)
    cancelled = next_matching(updates, "the canceled event", lambda u: u.event == TradeEvent.CANCELED and u.order.id == replacement.id)
    check(cancelled.order.status == OrderStatus.CANCELED, "cancel_order_by_id, and its canceled event")
    try:
        client.cancel_order_by_id(replacement.id)
        check(False, "a cancelled order cannot be cancelled again")
    except APIError as e:
        check(e.status_code == 422, f"cancelling a cancelled order raises APIError 422 ({e.message})")
    try:
        client.get_order_by_id(uuid.uuid4())
        check(False, "an unknown order is not found")
    except APIError as e:
        check(e.status_code == 404, "an unknown order raises APIError 404")

    # --- positions, crypto, cancel-all ---------------------------------------------------
    positions = client.get_all_positions()
    check(all(isinstance(p, Position) for p in positions), "get_all_positions parses into Position")
    aapl = client.get_open_position("AAPL")
    check(float(aapl.qty) == 2 and float(aapl.avg_entry_price) == 100, "get_open_position(AAPL) holds the 2 bought at 100")
    crypto = client.submit_order(
        MarketOrderRequest(symbol="BTC/USD", qty=0.01, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, client_order_id=f"check-{run}-btc")
    )
    check(crypto.asset_class.value == "crypto", "a crypto order parses")
    control(base, "/_stub/trade", {"symbol": "BTC/USD", "price": "60000", "qty": "1"})
    next_matching(updates, "the crypto fill", lambda u: u.order.id == crypto.id and u.event == TradeEvent.FILL)
    btc = client.get_open_position("BTCUSD")
    check(float(btc.qty) == 0.01 and btc.asset_class.value == "crypto", "the crypto position is BTCUSD")
    client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=1, client_order_id=f"check-{run}-last")
    )
    statuses = client.cancel_orders()
    check(len(statuses) == 1 and statuses[0].status == 200, "cancel_orders parses into CancelOrderResponse")

    trading_stream.stop()
    data_stream.stop()
    print(f"{checks} passed, 0 failed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a failed check, or the SDK refusing what the stub sent
        print(f"FAIL {type(e).__name__}: {e}")
        print(f"{checks} passed, 1 failed")
        sys.exit(1)
