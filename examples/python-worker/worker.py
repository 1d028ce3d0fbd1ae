#!/usr/bin/python3
"""A Shoal worker in Python: runs jobs for a shoald that owns the queues.

It implements "Workers (external)" of docs/protocol.md with nothing but
pyzmq and msgpack (Debian: python3-zmq, python3-msgpack):

    link       a DEALER to the owner's link endpoint (shoald --bind),
               routing id = --name
    LINK_HB    first, then every heartbeat: who we are; the owner answers
    NODE_BOOT  once per executor "py.0" .. "py.N-1" (N = --capacity)
    CREDIT     every second per executor: 1 free slot, 0 while it runs,
               with the worker's labels (jobs that `require` them come here)
    RUN        a job -> [STARTED, wait for OK] -> EXTEND ... -> RESULT
    CANCEL     the owner took a run back: stop it, report nothing
    RELEASE    a RUN this worker will not start
    LINK_HB {bye: true} when stopping (SIGTERM, SIGINT)

Job types: echo, py.upper, py.sum, py.sleep; register more with @handler.

    /usr/bin/python3 worker.py --join tcp://127.0.0.1:5580 --name w1
"""
import argparse
import logging
import os
import queue
import re
import signal
import socket
import struct
import sys
import threading
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

VERSION = "py-worker 0.1"

# Message types (docs/protocol.md, section 6).
OK, ERROR, PING, CANCEL = 1, 2, 3, 19
RUN, RESULT, CREDIT, NODE_BOOT, RELEASE, STARTED, EXTEND = 44, 45, 46, 53, 55, 56, 57
LINK_HB = 64
TYPE_NAMES = {OK: "OK", ERROR: "ERROR", PING: "PING", CANCEL: "CANCEL",
              RUN: "RUN", RESULT: "RESULT", CREDIT: "CREDIT",
              NODE_BOOT: "NODE_BOOT", RELEASE: "RELEASE", STARTED: "STARTED",
              EXTEND: "EXTEND", LINK_HB: "LINK_HB"}

NAME_RE = re.compile(r"[A-Za-z0-9._:-]{1,32}\Z")   # a worker's name
LABEL_RE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")    # what jobs may require
RESULT_MAX = 1 << 20      # what shoald's own executors allow a result
STARTED_WAIT_S = 10       # how long a long run waits for its STARTED's OK
CREDIT_EVERY_S = 1.0
BOOT_RETRY_S = 1.0
DEFAULT_LEASE_MS = 300000  # store/lease, when a RUN does not say ("lm")

log = logging.getLogger("worker")


# --------------------------------------------------------------------------
# Frames: 2-byte header length, msgpack header array, msgpack body map.

def now_us():
    return time.time_ns() // 1000


def new_id():
    """A 16-byte message id: 48-bit milliseconds, then 80 random bits."""
    return (time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10)


def encode(mtype, to, sender, body, corr=None):
    """Returns (message id, frame bytes)."""
    mid = new_id()
    header = msgpack.packb([1, mtype, to, sender, mid, corr, now_us(), 0, 0],
                           use_bin_type=True)
    return mid, (struct.pack(">H", len(header)) + header
                 + msgpack.packb(body, use_bin_type=True))


class Frame:
    def __init__(self, data):
        if len(data) < 2:
            raise ValueError("shorter than 2 bytes")
        (hlen,) = struct.unpack_from(">H", data)
        header = msgpack.unpackb(data[2:2 + hlen])
        if not isinstance(header, list) or len(header) < 9:
            raise ValueError("header is not an array of 9 or more")
        if header[0] != 1:
            raise ValueError(f"protocol version {header[0]}")
        (_, self.type, self.to, self.sender, self.id, self.corr) = header[:6]
        self.body = msgpack.unpackb(data[2 + hlen:], strict_map_key=False)
        if not isinstance(self.body, dict):
            raise ValueError("body is not a map")


def show(value, limit=200):
    """A short printable form of a body, bytes in hex (for --trace)."""
    def conv(v):
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, dict):
            return {conv(k): conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    text = repr(conv(value))
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------
# Handlers: functions of a Job, returning a msgpack-able result or raising.

class JobError(Exception):
    """A run failed: message becomes the job's error, error_class its class
    (what retry policies match, e.g. retry ...:on=invalid)."""

    def __init__(self, message, error_class="error"):
        super().__init__(message)
        self.message = message
        self.error_class = error_class


class Job:
    """What a handler sees of a run."""

    def __init__(self, run):
        self.id = run.id.hex()
        self.type = run.type
        self.queue = run.queue
        self.attempt = run.attempt
        self.payload = run.payload
        self.deadline = (time.monotonic() + run.timeout_ms / 1000
                         if run.timeout_ms else None)
        self.cancelled = threading.Event()   # set by CANCEL or shutdown

    def sleep(self, seconds):
        """Sleeps, but stops at a cancel or at the job's timeout."""
        until = time.monotonic() + seconds
        if self.deadline and self.deadline < until:
            until = self.deadline
        if self.cancelled.wait(max(0.0, until - time.monotonic())):
            raise JobError("cancelled", "cancelled")
        if self.deadline and time.monotonic() >= self.deadline:
            raise JobError("timed out", "timeout")

    def field(self, key, kind, what):
        value = self.payload.get(key) if isinstance(self.payload, dict) else None
        if not kind(value):
            raise JobError(f"{self.type} needs {what}", "invalid")
        return value


HANDLERS = {}   # job type -> (function, long)


def handler(job_type, long=False):
    """Registers a handler. long: it may take a while, so the owner is told
    it started (STARTED): if this worker then dies, the run failed."""
    def register(fn):
        HANDLERS[job_type] = (fn, long)
        return fn
    return register


@handler("echo")
def echo(job):
    return job.payload


@handler("py.upper")
def upper(job):
    text = job.field("text", lambda v: isinstance(v, str), '{"text": string}')
    return {"text": text.upper()}


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@handler("py.sum")
def total(job):
    numbers = job.field("numbers",
                        lambda v: isinstance(v, list) and all(map(_is_number, v)),
                        '{"numbers": [number, ...]}')
    return {"sum": sum(numbers)}


@handler("py.sleep", long=True)
def nap(job):
    ms = job.field("ms", lambda v: isinstance(v, int) and 0 <= v <= 86400000,
                   '{"ms": 0..86400000}')
    job.sleep(ms / 1000)
    return {"slept_ms": ms}


# --------------------------------------------------------------------------
# The worker.

class Run:
    """One RUN held by an executor."""

    def __init__(self, executor, body):
        self.executor = executor
        self.id = body["id"]
        self.epoch = body["e"]
        self.type = body["t"]
        self.queue = body.get("q", "")
        self.attempt = body.get("a", 0)
        self.payload = body.get("pl")
        self.timeout_ms = body.get("to", 0)
        self.lease_ms = body.get("lm") or DEFAULT_LEASE_MS
        self.job = Job(self)
        self.started_id = None      # our STARTED, until the store's OK
        self.started_until = 0.0
        self.thread = None          # set once the handler runs
        self.next_extend = 0.0
        self.void = False           # cancelled by the owner: no RESULT


class Executor:
    def __init__(self, name):
        self.name = name            # "py.0"; the owner calls it "py.0@NAME"
        self.booted = False
        self.boot_id = None
        self.next_boot = 0.0
        self.run = None


class Worker:
    def __init__(self, opts):
        self.opts = opts
        self.name = opts.name
        self.executors = {f"py.{i}": Executor(f"py.{i}")
                          for i in range(opts.capacity)}
        self.hb_s = opts.heartbeat / 1000
        self.liveness = 4
        self.linked = False
        self.last_answer = 0.0
        self.next_beat = 0.0
        self.next_credit = 0.0
        self.stopping = False
        self.stop_by = 0.0
        self.signalled = 0
        self.done = queue.Queue()            # (run, outcome) from handlers
        self.wake_r, self.wake_w = os.pipe()  # handlers wake the main loop
        os.set_blocking(self.wake_r, False)
        self.ctx = zmq.Context()
        self.monitor = None         # CURVE: the link's handshake events
        self.refused = False        # the owner refused our key
        self.reconnect_at = 0.0     # when to make the link again
        self.poller = zmq.Poller()
        self.poller.register(self.wake_r, zmq.POLLIN)
        self.sock = self.connect()

    # -- the link ----------------------------------------------------------

    def connect(self):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, self.name.encode())   # who we are
        s.setsockopt(zmq.LINGER, 2000)       # let the bye go out on close
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        beat_ms = self.opts.heartbeat
        s.setsockopt(zmq.HEARTBEAT_IVL, beat_ms)             # ZMTP pings
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, beat_ms * 4)
        s.setsockopt(zmq.HEARTBEAT_TTL, beat_ms * 4)
        if self.opts.cert:
            keys = read_cert(self.opts.cert)
            s.curve_publickey = keys["public-key"].encode()
            s.curve_secretkey = keys["secret-key"].encode()
            s.curve_serverkey = server_key(self.opts.server_key).encode()
            # libzmq does not reconnect after the owner refused our key:
            # watch the handshakes, and make the socket again (reconnect).
            self.monitor = s.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
            self.poller.register(self.monitor, zmq.POLLIN)
        s.connect(self.opts.join)
        self.poller.register(s, zmq.POLLIN)
        log.info("worker %s (%d executors) joins %s%s", self.name,
                 len(self.executors), self.opts.join,
                 " (CURVE)" if self.opts.cert else "")
        return s

    def on_handshake(self):
        while True:
            try:
                ev = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if ev["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.refused = False
            elif not self.reconnect_at:
                if not self.refused:   # say it once, until a success
                    log.warning("%s refused this worker's key (CURVE, status "
                                "%s): is its public certificate in the owner's "
                                "shoald/curve_allow folder? Trying again every "
                                "%.1f s", self.opts.join, ev["value"],
                                self.hb_s * self.liveness)
                self.refused = True
                self.reconnect_at = time.monotonic() + self.hb_s * self.liveness

    def reconnect(self):
        """A new link socket (what the old one queued is dropped: the
        owner never knew us on it)."""
        if self.monitor is not None:
            self.sock.disable_monitor()
        for s in (self.sock, self.monitor):
            if s is not None:
                self.poller.unregister(s)
                s.close(linger=0)
        self.monitor = None
        self.reconnect_at = 0.0
        self.sock = self.connect()
        self.next_beat = 0.0

    def send(self, mtype, to, sender, body, corr=None):
        mid, data = encode(mtype, to, sender, body, corr)
        if self.opts.trace:
            log.info("> %s to=%s from=%s %s\n%s", TYPE_NAMES.get(mtype, mtype),
                     to, sender, show(body), hexdump(data))
        try:
            self.sock.send(data, zmq.NOBLOCK)
        except zmq.Again:
            log.warning("link queue full: %s dropped", TYPE_NAMES.get(mtype))
        return mid

    def beat(self, bye=False):
        pages, psize = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        self.send(LINK_HB, "registry", "registry", {
            "name": self.name, "kind": "worker", "labels": self.opts.label,
            "capacity": len(self.executors), "executors": len(self.executors),
            "cores": os.cpu_count() or 0, "memory_mb": pages * psize >> 20,
            "version": VERSION, "bye": bye})

    def credit(self, ex, boot=False):
        free = 0 if (ex.run or self.stopping) else 1
        self.send(CREDIT, "scheduler", ex.name,
                  {"capacity": free, "busy": 0, "boot": boot,
                   "labels": self.opts.label, "weight": self.opts.weight})

    # -- frames from the owner -----------------------------------------------

    def receive(self):
        while True:
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                f = Frame(parts[0])
            except Exception as e:   # noqa: BLE001 - anything undecodable
                log.warning("dropped an undecodable frame (%d bytes): %s",
                            len(parts[0]), e)
                continue
            if self.opts.trace:
                log.info("< %s to=%s from=%s %s\n%s",
                         TYPE_NAMES.get(f.type, f.type), f.to, f.sender,
                         show(f.body), hexdump(parts[0]))
            self.dispatch(f)

    def dispatch(self, f):
        if f.type == LINK_HB:
            self.on_link(f.body)
        elif f.type == RUN:
            self.on_run(f)
        elif f.type == CANCEL:
            self.on_cancel(f)
        elif f.type == OK:
            self.on_ok(f)
        elif f.type == ERROR:
            log.warning("ERROR %s from %s: %s", f.body.get("code"), f.sender,
                        f.body.get("text"))
        elif f.type == PING:
            self.send(OK, f.sender, f.to, {}, corr=f.id)
        else:
            log.debug("ignored a message of type %s", f.type)

    def on_link(self, body):
        self.last_answer = time.monotonic()
        self.hb_s = body.get("heartbeat_ms", self.opts.heartbeat) / 1000
        self.liveness = body.get("liveness", self.liveness)
        if not self.linked:
            self.linked = True
            self.next_credit = 0.0
            log.info("linked to %s (heartbeat %d ms, liveness %d)",
                     body.get("name"), self.hb_s * 1000, self.liveness)
        if body.get("rejoin"):
            # Our leases were requeued when we were declared lost: what we
            # still run will be refused (stale). Stop what can be stopped.
            held = [ex.run for ex in self.executors.values() if ex.run]
            log.warning("the owner had declared us lost; %d run(s) held "
                        "here are no longer ours", len(held))
            for run in held:
                run.job.cancelled.set()

    def on_run(self, f):
        body = f.body
        ex = self.executors.get(f.to)
        if not isinstance(body.get("id"), bytes) or "e" not in body:
            log.warning("malformed RUN: %s", show(body))
            return
        if ex is None or ex.run or self.stopping or not isinstance(body.get("t"), str):
            # Not ours to start: back to its queue, attempt not counted.
            self.send(RELEASE, "store", f.to,
                      {"items": [{"id": body["id"], "e": body["e"]}]})
            return
        run = ex.run = Run(ex, body)
        self.credit(ex)   # its slot is taken: 0 free
        fn, long = HANDLERS.get(run.type, (None, False))
        if long:
            run.started_id = self.send(STARTED, "store", ex.name,
                                       {"id": run.id, "e": run.epoch})
            run.started_until = time.monotonic() + STARTED_WAIT_S
        else:
            self.launch(run)

    def on_cancel(self, f):
        # Sent twice: to the executor, and to the run's own name "x.<id>".
        for ex in self.executors.values():
            run = ex.run
            if run and run.id == f.body.get("id") and not run.void:
                log.info("%s: job %s cancelled", ex.name, run.id.hex())
                run.void = True
                run.job.cancelled.set()
                if run.thread is None:   # not started: nothing to wait for
                    self.finish(run)

    def on_ok(self, f):
        for ex in self.executors.values():
            if not ex.booted and f.corr is not None and f.corr == ex.boot_id:
                ex.booted = True
                log.info("%s@%s ready (the owner requeued %s old lease(s))",
                         ex.name, self.name, f.body.get("requeued", 0))
                self.credit(ex, boot=True)
            run = ex.run
            if run and run.thread is None and run.started_id is not None \
                    and f.corr == run.started_id:
                self.launch(run)

    # -- runs ----------------------------------------------------------------

    def launch(self, run):
        run.started_id = None
        run.next_extend = time.monotonic() + run.lease_ms / 3000
        run.thread = threading.Thread(target=self.work, args=(run,),
                                      daemon=True)
        run.thread.start()

    def work(self, run):
        """In the run's own thread: the handler, and nothing else."""
        entry = HANDLERS.get(run.type)
        try:
            if entry is None:
                raise JobError(f"no handler for type {run.type} on worker "
                               f"{self.name}", "no_handler")
            result = entry[0](run.job)
            if run.job.deadline and time.monotonic() > run.job.deadline:
                raise JobError(f"timed out after {run.timeout_ms} ms", "timeout")
            packed = msgpack.packb(result, use_bin_type=True)
            if len(packed) > RESULT_MAX:
                raise JobError(f"result larger than {RESULT_MAX} bytes")
            outcome = (True, result, None, None)
        except JobError as e:
            outcome = (False, None, e.message, e.error_class)
        except Exception as e:   # noqa: BLE001 - a handler's bug fails the run
            outcome = (False, None, f"{type(e).__name__}: {e}", "error")
        self.done.put((run, outcome))
        os.write(self.wake_w, b"!")

    def report(self):
        """Sends the RESULTs of finished runs."""
        try:
            while True:
                os.read(self.wake_r, 4096)
        except BlockingIOError:
            pass
        while True:
            try:
                run, (ok, result, error, error_class) = self.done.get_nowait()
            except queue.Empty:
                return
            if not run.void:
                item = {"id": run.id, "e": run.epoch, "ok": ok}
                if result is not None:
                    item["r"] = result
                if not ok:
                    item["er"] = error
                    item["ec"] = error_class
                self.send(RESULT, "store", run.executor.name, {"items": [item]})
            self.finish(run)

    def finish(self, run):
        ex = run.executor
        if ex.run is run:
            ex.run = None
            if ex.booted:
                self.credit(ex)   # a free slot again

    # -- time ----------------------------------------------------------------

    def tick(self):
        now = time.monotonic()
        if self.reconnect_at and now >= self.reconnect_at:
            self.reconnect()
        if now >= self.next_beat:
            self.beat()
            self.next_beat = now + self.hb_s
        if self.linked and now - self.last_answer > self.hb_s * self.liveness:
            self.linked = False
            log.warning("no answer from the owner for %.1f s; still trying",
                        now - self.last_answer)
        for ex in self.executors.values():
            if not ex.booted and self.linked and not self.stopping \
                    and now >= ex.next_boot:
                # The store requeues whatever an earlier "py.K@NAME" held.
                ex.boot_id = self.send(NODE_BOOT, "store", ex.name, {})
                ex.next_boot = now + BOOT_RETRY_S
            run = ex.run
            if run and run.thread is None and run.started_id \
                    and now >= run.started_until:
                log.warning("%s: no answer to STARTED; running anyway", ex.name)
                self.launch(run)
            if run and run.thread and not run.void and now >= run.next_extend:
                self.send(EXTEND, "store", ex.name,
                          {"items": [{"id": run.id, "e": run.epoch}]})
                run.next_extend = now + run.lease_ms / 3000
        if self.linked and now >= self.next_credit:
            for ex in self.executors.values():
                if ex.booted:
                    self.credit(ex)
            self.next_credit = now + CREDIT_EVERY_S

    # -- main loop and stopping ----------------------------------------------

    def on_signal(self, signum, _frame):
        self.signalled = signum

    def stop(self):
        now = time.monotonic()
        if self.stopping:   # a second signal: leave now
            self.stop_by = now
            return
        self.stopping = True
        self.stop_by = now + self.opts.grace
        log.info("stopping: no new work; waiting up to %g s for running jobs",
                 self.opts.grace)
        for ex in self.executors.values():
            run = ex.run
            if run and run.thread is None:   # waits for STARTED's OK
                self.send(RELEASE, "store", ex.name,
                          {"items": [{"id": run.id, "e": run.epoch}]})
                ex.run = None
            if ex.booted:
                self.credit(ex)   # 0 free slots

    def busy(self):
        return any(ex.run for ex in self.executors.values())

    def serve(self):
        while True:
            if self.signalled:
                self.signalled = 0
                self.stop()
            self.tick()
            if self.stopping and (not self.busy()
                                  or time.monotonic() >= self.stop_by):
                break
            events = dict(self.poller.poll(50))
            if self.sock in events:
                self.receive()
            if self.monitor is not None and self.monitor in events:
                self.on_handshake()
            if self.wake_r in events:
                self.report()
        left = [ex.run for ex in self.executors.values() if ex.run]
        if left:
            log.warning("leaving %d job(s) unfinished: the owner requeues "
                        "them", len(left))
        self.beat(bye=True)   # the owner requeues what we held, at once
        if self.monitor is not None:
            self.sock.disable_monitor()
            self.monitor.close(linger=0)
        self.sock.close()     # lingers until the bye is out (2 s at most)
        self.ctx.term()
        log.info("worker %s stopped", self.name)


# --------------------------------------------------------------------------
# CURVE keys from `shoal keygen` certificates (ZPL text).

def read_cert(path):
    keys = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'\s*(public-key|secret-key)\s*=\s*"(.{40})"\s*$', line)
            if m:
                keys[m.group(1)] = m.group(2)
    if "secret-key" not in keys or "public-key" not in keys:
        sys.exit(f"worker: {path} is not a secret certificate "
                 "(shoal keygen writes NAME.key_secret)")
    return keys


def server_key(spec):
    if spec and len(spec) == 40 and not os.path.exists(spec):
        return spec
    if spec and os.path.exists(spec):
        with open(spec, encoding="utf-8") as f:
            for line in f:
                m = re.match(r'\s*public-key\s*=\s*"(.{40})"\s*$', line)
                if m:
                    return m.group(1)
    sys.exit(f"worker: --server-key {spec!r} is neither a 40 character Z85 "
             "key nor a certificate file")


def hexdump(data, limit=512):
    lines = []
    for at in range(0, min(len(data), limit), 16):
        chunk = data[at:at + 16]
        lines.append(f"    {at:04x}  {' '.join(f'{b:02x}' for b in chunk)}")
    if len(data) > limit:
        lines.append(f"    ... {len(data)} bytes")
    return "\n".join(lines)


def main():
    host = socket.gethostname().split(".")[0]
    p = argparse.ArgumentParser(description="A Shoal worker in Python.")
    p.add_argument("--join", required=True, metavar="EP",
                   help="the owner's link endpoint (shoald --bind), "
                        "e.g. tcp://10.0.0.1:5580")
    p.add_argument("--name", default=host if NAME_RE.match(host) else "py-worker",
                   help="this worker's name, 1-32 of A-Z a-z 0-9 . _ : - "
                        "(default: the host name)")
    p.add_argument("--capacity", type=int, default=os.cpu_count() or 1,
                   help="jobs run at once, one executor each (default: cores)")
    p.add_argument("--label", action="append", default=[],
                   help="a label jobs may require (shoal submit --require); "
                        "repeatable")
    p.add_argument("--weight", type=int, default=1,
                   help="share of the weighted placement policy (1-1000)")
    p.add_argument("--heartbeat", type=int, default=500, metavar="MS",
                   help="beat interval until the owner says (default 500)")
    p.add_argument("--grace", type=float, default=10.0, metavar="S",
                   help="on SIGTERM/SIGINT, wait this long for running jobs")
    p.add_argument("--cert", help="this worker's secret certificate (CURVE)")
    p.add_argument("--server-key", help="the owner's public key: Z85 text "
                                        "or its .key file")
    p.add_argument("--trace", action="store_true",
                   help="log every frame, decoded and in hex")
    p.add_argument("-v", "--verbose", action="store_true")
    opts = p.parse_args()
    if not NAME_RE.match(opts.name):
        p.error("--name must be 1-32 of A-Z a-z 0-9 . _ : -")
    if not 1 <= opts.capacity <= 64:
        p.error("--capacity must be 1..64")
    if len(opts.label) > 16 or not all(LABEL_RE.match(x) for x in opts.label):
        p.error("at most 16 labels, each 1-32 of A-Z a-z 0-9 . _ -")
    opts.label = list(dict.fromkeys(opts.label))   # each once, in order
    if not 1 <= opts.weight <= 1000:
        p.error("--weight must be 1..1000")
    if bool(opts.cert) != bool(opts.server_key):
        p.error("--cert and --server-key go together")
    if opts.cert and not zmq.has("curve"):
        p.error("this libzmq has no CURVE")
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s: %(message)s",
                        stream=sys.stderr)
    worker = Worker(opts)
    signal.signal(signal.SIGTERM, worker.on_signal)
    signal.signal(signal.SIGINT, worker.on_signal)
    worker.serve()


if __name__ == "__main__":
    main()
