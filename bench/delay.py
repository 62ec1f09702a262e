# A TCP proxy that holds every chunk DELAY seconds before passing it on, each way: a server that is a network away
# (a round trip of about twice DELAY). Used by bench/lib.sh's delay_servers (BENCH_DELAY_MS). A stream also passes at
# most a chunk (64 kB) per DELAY: a model of round trips for small databases, not of bandwidth for bulk data.
#   python3 bench/delay.py LISTEN_PORT UPSTREAM_PORT DELAY_SECONDS
import asyncio, sys
listen, upstream, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
async def pump(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data: break
            await asyncio.sleep(delay)
            w.write(data); await w.drain()
    except Exception: pass
    finally:
        try: w.close()
        except Exception: pass
async def handle(r, w):
    ur, uw = await asyncio.open_connection('127.0.0.1', upstream)
    await asyncio.gather(pump(r, uw), pump(ur, w))
async def main():
    srv = await asyncio.start_server(handle, '127.0.0.1', listen)
    async with srv: await srv.serve_forever()
asyncio.run(main())
