"""The kernel trace a VM scenario leaves in its console log (block `trace`:
tracefs's text, gzip + base64), read for the trace scripts of benches/
(latency-trace.py, requests-trace.py)."""
import base64
import gzip
import re
import sys

# comm-pid [cpu] flags timestamp: event: the rest
LINE = re.compile(r'^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$')


def console_text(path):
    """The console log, without carriage returns."""
    return open(path, errors='replace').read().replace('\r', '')


def trace_lines(text, source):
    """The lines of block `trace` in a console log's `text`; exits naming
    `source` when there is none."""
    m = re.search(r'ARBOR-BEGIN trace\n(.*?)\nARBOR-END trace', text, re.S)
    if not m:
        sys.exit(f'{source}: no block trace')
    raw = gzip.decompress(base64.b64decode(''.join(m.group(1).split())))
    return raw.decode(errors='replace').splitlines()


def events(lines):
    """(timestamp s, cpu, comm, pid, event, the rest) of each event line."""
    out = []
    for line in lines:
        m = LINE.match(line)
        if m:
            comm, pid, cpu, ts, name, rest = m.groups()
            out.append((float(ts), int(cpu), comm, int(pid), name, rest))
    return out
