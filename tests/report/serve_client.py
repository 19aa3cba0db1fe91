#!/usr/bin/python3
"""Drives a running `neurodyn serve RUN_DIR` (tests/cli/test_serve.sh):

- the page, /file/ of config.json and a PNG are the run's bytes; everything
  else (other files, paths out of the directory, other methods) is refused;
- malformed and abusive requests (garbage, a 100 KB header, a request line
  with no version, a client that sends half a request and goes, a body)
  leave the server answering;
- N concurrent /events connections each receive every metrics line and
  every recorded frame of the run, equal to the files; then metrics lines and
  a chunk appended to the run (as a training run writes them) reach all N;
- the server's resident memory stays bounded; half the clients vanish
  abruptly (RST) and the rest keep receiving.

usage: serve_client.py PORT RUN_DIR SERVER_PID [--clients N]
Exit 0 when all holds, 1 with the failure printed."""
import argparse, base64, http.client, json, os, socket, struct, sys, threading, time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_run import write_npy  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('port', type=int)
ap.add_argument('run')
ap.add_argument('pid', type=int)
ap.add_argument('--clients', type=int, default=100)
a = ap.parse_args()
HOST = '127.0.0.1'


def fail(msg):
    print('FAIL: ' + msg, file=sys.stderr)
    sys.exit(1)


def get(path, method='GET', body=None):
    c = http.client.HTTPConnection(HOST, a.port, timeout=20)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader('Content-Type'), data


def raw(data, read=True):
    s = socket.create_connection((HOST, a.port), timeout=10)
    s.sendall(data)
    got = b''
    if read:
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except socket.timeout:
            pass
    s.close()
    return got


def rss_kib(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return -1


# ---- the page and the files
st, ctype, page = get('/')
if st != 200 or not ctype.startswith('text/html') or b'"live":true' not in page:
    fail('GET / : %s %s, live page expected' % (st, ctype))
st, _, body = get('/file/config.json')
if st != 200 or json.loads(body) != json.load(open(a.run + '/config.json')):
    fail('/file/config.json differs from the file')
st, ctype, body = get('/file/figure.png')
if st != 200 or ctype != 'image/png' or body != open(a.run + '/figure.png', 'rb').read():
    fail('/file/figure.png differs from the file')
for path in ['/file/report.html', '/file/.hidden.png', '/file/record', '/record/index.json', '/file/%2e%2e%2fpasswd',
             '/nope', '/file/', '/events/x']:
    st, _, _ = get(path)
    if st != 404:
        fail('GET %s: %d, expected 404' % (path, st))
resp = raw(b'GET /file/../config.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
if b' 200 ' in resp.split(b'\r\n')[0]:
    fail('a path with .. was served')
for m in ['POST', 'PUT', 'DELETE', 'PATCH']:
    st, _, _ = get('/', m, body=b'x=1')
    if st not in (405, 400):
        fail('%s /: %d, expected 405' % (m, st))
# ---- malformed requests
raw(b'\x00\xff\xfe garbage \r\n\r\n')
raw(b'GET /\r\n\r\n')
raw(b'GET / HTTP/9.9\r\nHost: x\r\n\r\n')
raw(b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 100000 + b'\r\n\r\n')
raw(b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab', read=False)
raw(b'GET /events HTTP/1.1\r\nHo', read=False)
raw(b'GET /' + b'x' * 70000 + b' HTTP/1.1\r\nHost: x\r\n\r\n')
st, _, _ = get('/')
if st != 200:
    fail('after malformed requests: GET / %d' % st)

# ---- what every client must receive
index = json.load(open(a.run + '/record/index.json'))
frames = {s['name']: np.concatenate([np.load(a.run + '/record/' + c['file']) for c in s['chunks']]).astype(np.float32)
          for s in index['streams']}
lines = [json.loads(l) for l in open(a.run + '/metrics.jsonl')]


class Client(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.metrics, self.chunks, self.streams, self.error, self.events = [], {}, [], None, 0
        self.lock = threading.Lock()
        self.conn = None

    def run(self):
        try:
            self.conn = http.client.HTTPConnection(HOST, a.port, timeout=60)
            self.conn.request('GET', '/events')
            r = self.conn.getresponse()
            if r.status != 200 or r.getheader('Content-Type') != 'text/event-stream':
                raise RuntimeError('status %d %s' % (r.status, r.getheader('Content-Type')))
            typ = None
            while True:
                line = r.readline()
                if not line:
                    return
                line = line.rstrip(b'\n')
                if line.startswith(b'event: '):
                    typ = line[7:].decode()
                elif line.startswith(b'data: '):
                    d = json.loads(line[6:])
                    with self.lock:
                        self.events += 1
                        if typ == 'metrics':
                            self.metrics.append(d)
                        elif typ == 'stream':
                            self.streams.append(d['name'])
                        elif typ == 'chunk':
                            f = np.frombuffer(base64.b64decode(d['data']), '<f4')
                            self.chunks.setdefault(d['stream'], []).append((d['t0'], d['frames'], f))
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            if not getattr(self, 'closing', False):
                self.error = repr(e)

    def frames(self, name):
        with self.lock:
            parts = sorted(self.chunks.get(name, []), key=lambda p: p[0])
        if not parts:
            return np.zeros((0,))
        return np.concatenate([p[2].reshape(p[1], -1) for p in parts])


def wait_all(clients, pred, what, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if all(pred(c) or c.error for c in clients):
            break
        time.sleep(0.2)
    for c in clients:
        if c.error:
            fail('a client failed: ' + c.error)
        if not pred(c):
            fail('after %.0f s a client still lacks %s (%d events)' % (timeout, what, c.events))


def complete(c, lines, frames):
    if len(c.metrics) < len(lines):
        return False
    return all(c.frames(n).shape[0] >= len(f) for n, f in frames.items())


rss0 = rss_kib(a.pid)
clients = [Client() for _ in range(a.clients)]
for c in clients:
    c.start()
wait_all(clients, lambda c: complete(c, lines, frames), 'the run so far')
for c in clients:
    if c.metrics != lines:
        fail('the metrics events differ from metrics.jsonl')
    for n, f in frames.items():
        if not np.array_equal(c.frames(n), f.reshape(len(f), -1)):
            fail('stream %s: the frames received differ from the chunk files' % n)
    if sorted(c.streams) != sorted(frames):
        fail('streams announced: %s' % c.streams)
rss1 = rss_kib(a.pid)

# ---- the run goes on: 3 metrics lines and a chunk of 10 frames of "codes"
rng = np.random.default_rng(7)
new = rng.standard_normal((10, frames['codes'].shape[1])).astype(np.float32)
with open(a.run + '/metrics.jsonl', 'a') as f:
    for e in range(3):
        f.write(json.dumps({'epoch': 100 + e, 'train_loss': 0.01 * e}) + '\n')
        f.flush()
write_npy(a.run + '/record/codes_000001.npy', new)
for s in index['streams']:
    if s['name'] == 'codes':
        s['chunks'].append({'file': 'codes_000001.npy', 't0': len(frames['codes']), 'frames': 10})
tmp = a.run + '/record/index.json.tmp'
json.dump(index, open(tmp, 'w'))
os.replace(tmp, a.run + '/record/index.json')
lines2 = [json.loads(l) for l in open(a.run + '/metrics.jsonl')]
frames['codes'] = np.concatenate([frames['codes'], new])
# half of the clients vanish abruptly (RST, no goodbye) while the news goes out
for c in clients[::2]:
    c.closing = True
    try:
        c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.conn.sock.close()
    except Exception:  # noqa: BLE001
        pass
rest = clients[1::2]
wait_all(rest, lambda c: complete(c, lines2, frames), 'the appended lines and frames')
for c in rest:
    if c.metrics != lines2 or not np.array_equal(c.frames('codes'), frames['codes']):
        fail('the appended metrics or frames arrived wrong')
rss2 = rss_kib(a.pid)
st, _, _ = get('/')
if st != 200:
    fail('GET / after the clients: %d' % st)
print('serve: %d clients got %d metrics lines and %d frames each; server RSS %d MiB before, %d with %d clients, '
      '%d after half left' % (a.clients, len(lines2), sum(len(f) for f in frames.values()), rss0 >> 10, rss1 >> 10,
                              a.clients, rss2 >> 10))
if rss1 > 400 * 1024 or rss2 > 400 * 1024:
    fail('the server holds more than 400 MiB')
