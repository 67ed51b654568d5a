#!/usr/bin/env python3
"""callhost's benchmarks (issue 5): each figure measured side by side with its anchor
in one run, on this machine, and written to BENCHMARKS.md with the machine and date.

Run through `scripts/bench` (it installs the peers and builds the release host and the
bench apps first). Every peer binds 127.0.0.1; every load is bounded in calls and time.

    P1  call rate: a SIPp uac ladder against callhost (answer-hangup app), SIPp's own
        uas and a pjsua2 answering machine; the highest rate with 0 failed calls and
        0 retransmissions.
    P2/P4/P5  held media calls (bench/loadgen): loss and lateness both ways, calls per
        host CPU core, RSS per call, RTP send pacing. P2's anchor (also alone with
        --only P2pjsua): the same calls against many pjsua2 answering machines
        (bench/peers/pjsua_prompt.py, at most 4 calls each: the PyPI wheel's
        PJSUA_MAX_CALLS), their CPU with the calls minus their idle CPU.
    P3  instantiation p50/p99 (host/runtime/examples/instantiate_bench.rs).
    P6  hot reload under a 500 CPS run: new version serving within 250 ms, 0 failed.
    soak  half the P1 rate for --soak-seconds: 0 failed, RSS/fds/ports flat.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "target" / "bench"
PLUGINS = WORK / "plugins"          # every bench app, built by scripts/bench
CALLHOST = REPO / "target" / "release" / "callhost"
PJSUA_PYTHON = REPO / "tests" / ".venv" / "bin" / "python"
UAC_SCENARIO = REPO / "tests" / "sipp" / "host-wait-bye.xml"
UAS_SCENARIO = REPO / "bench" / "sipp" / "uas-answer-hangup.xml"
SOCKET_BUFFER = 4 * 1024 * 1024

# Loopback ports of this run (checked free before use).
HOST_SIP = 25060
UAC_SIP = 25070
ANCHOR_SIP = 25080
# P2's pjsua2 anchor: process i listens for SIP on PJSUA_SIP + i and sends RTP from
# PJSUA_RTP + i * PJSUA_RTP_RANGE onwards (below the kernel's ephemeral ports, which the
# load generator's sockets use, and below callhost's 30000-45999).
PJSUA_SIP = 23000
PJSUA_RTP = 10000
PJSUA_RTP_RANGE = 20
PJSUA_CALLS_EACH = 4          # the PyPI wheel's PJSUA_MAX_CALLS
PJSUA_MAX_PROCESSES = 500


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        probe = socket.socket(socket.AF_INET, kind)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            probe.close()
    return True


def wait_port_free(port, limit=10.0):
    deadline = time.monotonic() + limit
    while not port_free(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: port {port} stays busy; is another run going?")
        time.sleep(0.2)


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_udp_sockets(pid):
    """UDP sockets the process holds (inodes of its fds found in /proc/net/udp)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as rows:
            next(rows)
            count += sum(1 for row in rows if row.split()[9] in inodes)
    return count


class Host:
    """The release callhost binary with the given apps, quiet logs, on HOST_SIP."""

    def __init__(self, name, apps, log_filter="warn", max_calls=4000, extra_config=""):
        self.dir = WORK / name
        shutil.rmtree(self.dir, ignore_errors=True)
        plugins = self.dir / "plugins"
        media = self.dir / "media"
        plugins.mkdir(parents=True)
        media.mkdir()
        for app in apps:
            shutil.copy(PLUGINS / f"{app}.wasm", plugins / f"{app}.wasm")
            (media / app).mkdir()
        prompt = REPO / "target" / "bench" / "prompt.wav"
        if prompt.exists():
            for app in apps:
                shutil.copy(prompt, media / app / "prompt.wav")
        self.plugins = plugins
        config = self.dir / "callhost.toml"
        config.write_text(
            f'[sip]\nlisten = "127.0.0.1:{HOST_SIP}"\ntcp = false\nsession_expires = 0\n'
            f'[media]\ndir = "{media}"\nrtp_ports = "30000-45999"\n'
            f'[plugins]\ndir = "{plugins}"\n'
            f"[limits]\nmax_calls = {max_calls}\ncall_seconds = 600\n"
            f'[admin]\nlisten = ""\n{extra_config}'
        )
        wait_port_free(HOST_SIP)
        self.log_path = self.dir / "callhost.log"
        # "callhost is running" (callhost::server, info) tells that it is up.
        env = dict(os.environ, CALLHOST_LOG=f"{log_filter},callhost::server=info")
        self.process = subprocess.Popen(
            [str(CALLHOST), "run", "--config", str(config)],
            stdout=open(self.log_path, "w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        while "callhost is running" not in self.log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise SystemExit(f"bench: callhost did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)
        self.pid = self.process.pid

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- SIPp helpers


def sipp_uac(rate, calls, work, service="answer-hangup", limit=None, wait=60):
    """One bounded SIPp uac run against HOST_SIP (or whatever listens there). Returns
    the final counters of SIPp's statistics file."""
    work.mkdir(parents=True, exist_ok=True)
    stats = work / f"uac-{rate}.csv"
    stats.unlink(missing_ok=True)
    wait_port_free(UAC_SIP)
    command = [
        "sipp", f"127.0.0.1:{HOST_SIP}", "-sf", str(UAC_SCENARIO), "-s", service,
        "-i", "127.0.0.1", "-p", str(UAC_SIP), "-mp", "26000",
        "-r", str(rate), "-rp", "1000", "-m", str(calls),
        "-l", str(limit or max(rate * 4, 100)),
        "-buff_size", str(SOCKET_BUFFER), "-max_socket", "64",
        "-timeout", f"{int(calls / rate) + wait}s", "-timeout_error",
        "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.monotonic() - started
    counters = read_sipp_stats(stats)
    counters["exit"] = done.returncode
    counters["seconds"] = elapsed
    if not counters.get("rows"):
        counters["output"] = done.stdout[-2000:]
    return counters


def read_sipp_stats(path):
    """The last row of SIPp's -trace_stat CSV: cumulative successes, failures,
    retransmissions."""
    if not path.exists():
        return {"rows": 0, "successful": 0, "failed": 0, "retransmissions": 0}
    with open(path, newline="") as table:
        rows = list(csv.reader(table, delimiter=";"))
    if len(rows) < 2:
        return {"rows": 0, "successful": 0, "failed": 0, "retransmissions": 0}
    header, last = rows[0], rows[-1]
    value = dict(zip(header, last))
    return {
        "rows": len(rows) - 1,
        "successful": int(value.get("SuccessfulCall(C)", 0)),
        "failed": int(value.get("FailedCall(C)", 0)),
        "retransmissions": int(value.get("Retransmissions(C)", 0)),
        "created": int(value.get("TotalCallCreated", 0)),
    }


class SippUas:
    def __init__(self, work):
        work.mkdir(parents=True, exist_ok=True)
        wait_port_free(HOST_SIP)
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(UAS_SCENARIO), "-i", "127.0.0.1", "-p", str(HOST_SIP),
             "-mp", "27000", "-buff_size", str(SOCKET_BUFFER), "-nostdin",
             "-timeout", "3600s", "-bg"],
            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        # With -bg SIPp forks and prints the background PID.
        output = self.process.communicate(timeout=20)[0]
        match = re.search(r"PID=\[(\d+)\]", output)
        if not match:
            raise SystemExit(f"bench: SIPp uas did not start: {output}")
        self.pid = int(match.group(1))
        time.sleep(0.5)

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGUSR1)  # SIPp: quit after the calls in progress
            time.sleep(1)
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class PjsuaAnswer:
    def __init__(self, work, seconds):
        work.mkdir(parents=True, exist_ok=True)
        wait_port_free(HOST_SIP)
        ready = work / "ready"
        ready.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [str(PJSUA_PYTHON), str(REPO / "bench" / "peers" / "pjsua_answer.py"),
             "--port", str(HOST_SIP), "--seconds", str(seconds), "--ready-file", str(ready)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.pid = self.process.pid
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: pjsua2 did not start: {self.process.stdout.read()}")
            time.sleep(0.1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- P1 call rate

RATE_LADDER = [10, 25, 50, 100, 200, 400, 700, 1000, 1300, 1600, 2000, 2400, 2800, 3200, 3600, 4000, 4500, 5000, 6000]


def ladder(peer_name, start_peer, args):
    """Steps up the SIPp uac rate against one peer until the first step with a failed
    call or a retransmission. Returns (best clean rate, steps)."""
    steps = []
    best = 0
    for rate in RATE_LADDER:
        if rate > args.max_rate:
            break
        calls = max(int(rate * args.step_seconds), 200)
        peer = start_peer()
        try:
            cpu_before = proc_cpu_seconds(peer.pid)
            counters = sipp_uac(rate, calls, WORK / "p1" / peer_name)
            peer_cpu = proc_cpu_seconds(peer.pid) - cpu_before
        finally:
            peer.stop()
        counters.update(rate=rate, calls=calls, peer_cpu_seconds=round(peer_cpu, 2))
        clean = (counters["failed"] == 0 and counters["retransmissions"] == 0
                 and counters["successful"] == calls)
        counters["clean"] = clean
        steps.append(counters)
        log(f"P1 {peer_name:8} {rate:5} cps: {counters['successful']}/{calls} ok, "
            f"{counters['failed']} failed, {counters['retransmissions']} retrans, "
            f"peer cpu {peer_cpu:.2f}s over {counters['seconds']:.1f}s")
        if not clean:
            break
        best = rate
    return best, steps


def bench_p1(args, results):
    peers = {
        "callhost": lambda: Host("p1-host", ["answer-hangup"]),
        "sipp-uas": lambda: SippUas(WORK / "p1" / "uas"),
        "pjsua2": lambda: PjsuaAnswer(WORK / "p1" / "pjsua", seconds=args.step_seconds + 70),
    }
    runs = {name: [] for name in peers}
    for repetition in range(args.reps):
        for name, start in peers.items():
            best, steps = ladder(name, start, args)
            runs[name].append({"best": best, "steps": steps})
            log(f"P1 {name}: run {repetition + 1}: {best} cps clean")
    results["P1"] = runs


# ---------------------------------------------------------------- P3 instantiation


def bench_p3(args, results):
    example = REPO / "target" / "release" / "examples" / "instantiate_bench"
    figures = []
    for _ in range(args.reps):
        done = subprocess.run([str(example), str(PLUGINS / "answer-hangup.wasm")],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"bench: instantiate_bench failed:\n{done.stdout}{done.stderr}")
        figures.append(parse_instantiate(done.stdout))
        log(f"P3 {figures[-1]}")
    results["P3"] = figures


def parse_duration_us(text):
    number, unit = re.match(r"([\d.]+)\s*(ns|µs|us|ms|s)", text).groups()
    scale = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]
    return float(number) * scale


def parse_instantiate(output):
    figures = {}
    for line in output.splitlines():
        match = re.match(r"(instantiate(?: \+ main)?): p50 (\S+) p99 (\S+)", line)
        if match:
            key = "whole_call" if "main" in match.group(1) else "instantiate"
            figures[key] = {"p50_us": round(parse_duration_us(match.group(2)), 1),
                            "p99_us": round(parse_duration_us(match.group(3)), 1)}
    return figures


# ---------------------------------------------------------------- P2/P4/P5 media calls

LOADGEN = REPO / "target" / "release" / "callhost-loadgen"
STAT_FIELD = re.compile(r"\b(received|lost|late)=(\d+)")


def host_media_figures(log_text):
    """What the host received from the callers, from its `media statistics` lines."""
    totals = {"legs": 0, "received": 0, "lost": 0, "late": 0}
    for line in log_text.splitlines():
        if "media statistics" not in line:
            continue
        totals["legs"] += 1
        for key, value in STAT_FIELD.findall(line):
            totals[key] += int(value)
    return totals


def counts(text):
    """A comma-separated list of call counts ('' is none)."""
    return [int(count) for count in text.split(",") if count.strip()]


def bench_p2(args, results):
    bench_p2_host(args, results)
    if counts(args.pjsua_media_calls):
        bench_p2_pjsua(args, results)


def bench_p2_host(args, results):
    rows = []
    for calls in counts(args.media_calls):
        for repetition in range(args.reps):
            host = Host("p2-host", ["prompt-loop"], max_calls=calls + 100,
                        log_filter="warn,callhost::call::statistics=info")
            report = WORK / "p2" / f"loadgen-{calls}-{repetition + 1}.json"
            report.parent.mkdir(parents=True, exist_ok=True)
            try:
                figures = run_loadgen(args, "prompt-loop", calls, [(HOST_SIP, host.pid)], report)
                # The host logs each leg's figures when the call ends; give the last BYEs a moment.
                deadline = time.monotonic() + 30
                while (host_media_figures(host.log_text())["legs"] < calls
                       and time.monotonic() < deadline):
                    time.sleep(0.5)
            finally:
                host.stop()
            received = host_media_figures(host.log_text())
            row = {
                "calls": calls, "run": repetition + 1,
                "established": figures["calls"]["established"],
                "failed": figures["calls"]["failed"], "dropped": figures["calls"]["dropped"],
                "invite_retransmissions": figures["signalling"]["invite_retransmissions"],
                "sent_to_host": figures["to_host"]["packets_sent"],
                "frames_skipped_by_generator": figures["to_host"]["frames_skipped"],
                "generator_send_lateness_p99_ms": figures["to_host"]["send_lateness"]["p99_ms"],
                "host_received": received["received"], "host_legs_reported": received["legs"],
                "lost_to_host": received["lost"], "late_at_host": received["late"],
                "received_from_host": figures["from_host"]["packets_received"],
                "lost_from_host": figures["from_host"]["lost"],
                "late_from_host": figures["from_host"]["late"],
                "host_cores": figures["host"]["cores_used"],
                "calls_per_core": figures["host"]["calls_per_core"],
                "rss_per_call_kib": figures["host"]["rss_per_call_kib"],
                "rss_steady_kib": figures["host"]["rss_steady_kib"],
                "pacing_p50_ms": figures["host_pacing"]["p50_ms"],
                "pacing_p99_ms": figures["host_pacing"]["p99_ms"],
                "pacing_max_ms": figures["host_pacing"]["max_ms"],
                "generator_cores": figures["generator"]["cores_used_in_window"],
                "window_s": figures["timing"]["steady_window_s"],
            }
            rows.append(row)
            log(f"P2 {calls} calls run {repetition + 1}: {row}")
    results["P2"] = rows


class PjsuaFarm:
    """`processes` pjsua2 answering machines (bench/peers/pjsua_prompt.py), each on its own
    SIP port and RTP port range, started in parallel batches; all are ready on return."""

    BATCH = 25

    def __init__(self, work, processes, seconds, listen, prompt):
        if processes > PJSUA_MAX_PROCESSES:
            raise SystemExit(f"bench: at most {PJSUA_MAX_PROCESSES} pjsua2 processes")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.work = work
        self.ports = [PJSUA_SIP + index for index in range(processes)]
        busy = [port for port in self.ports if not port_free(port)]
        if busy:
            raise SystemExit(f"bench: pjsua2 SIP ports busy: {busy[:10]}; is another run going?")
        self.processes = []
        try:
            for first in range(0, processes, self.BATCH):
                batch = range(first, min(first + self.BATCH, processes))
                for index in batch:
                    with open(self.output(index), "w") as output:
                        self.processes.append(subprocess.Popen(
                            [str(PJSUA_PYTHON), str(REPO / "bench" / "peers" / "pjsua_prompt.py"),
                             "--port", str(self.ports[index]),
                             "--rtp-port", str(PJSUA_RTP + index * PJSUA_RTP_RANGE),
                             "--rtp-port-range", str(PJSUA_RTP_RANGE),
                             "--prompt", str(prompt), "--listen" if listen else "--no-listen",
                             "--seconds", str(seconds), "--ready-file", str(self.ready(index))],
                            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT))
                deadline = time.monotonic() + 60
                for index in batch:
                    while not self.ready(index).exists():
                        if self.processes[index].poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"bench: pjsua2 process {index} did not start:\n"
                                             f"{self.output(index).read_text()[-2000:]}")
                        time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self.pids = [process.pid for process in self.processes]

    def ready(self, index):
        return self.work / f"ready-{index}"

    def output(self, index):
        return self.work / f"pjsua-{index}.log"

    def cpu_seconds(self):
        return sum(proc_cpu_seconds(pid) for pid in self.pids)

    def rss_kib(self):
        return [proc_rss_kib(pid) for pid in self.pids]

    def stop(self, timeout=20):
        """SIGTERM to each (they hang up what is left and print their figures), then
        SIGKILL to any still running after `timeout`. Returns each one's JSON (or None)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        figures = []
        for index in range(len(self.processes)):
            last = [line for line in self.output(index).read_text(errors="replace").splitlines()
                    if line.startswith("{")]
            figures.append(json.loads(last[-1]) if last else None)
        return figures


def bench_p2_pjsua(args, results):
    """P2's anchor: the same held calls against N/4 pjsua2 processes (4 calls each, the
    wheel's limit), each playing the prompt to each of its calls. Their idle CPU is
    measured first; marginal cores = cores with the calls - idle cores (the per-process
    overhead the 4-call limit forces on us is not pjsua2's cost per call)."""
    prompt = REPO / "target" / "bench" / "prompt.wav"
    if not prompt.exists():
        raise SystemExit(f"bench: {prompt} is missing (scripts/bench makes it)")
    variants = {"on": [True], "off": [False], "both": [True, False]}[args.pjsua_listen]
    rows = []
    for calls in counts(args.pjsua_media_calls):
        if calls % PJSUA_CALLS_EACH:
            raise SystemExit(f"bench: --pjsua-media-calls {calls} is not a multiple of {PJSUA_CALLS_EACH}")
        processes = calls // PJSUA_CALLS_EACH
        for listen in variants:
            for repetition in range(args.reps):
                rows.append(pjsua_run(args, calls, processes, listen, repetition + 1, prompt))
    results["P2-pjsua2"] = rows


def pjsua_load(args, farm, calls, report):
    """One load generator run against every process of the farm, sampling all of them.
    Returns its JSON report."""
    return run_loadgen(args, "prompt", calls, list(zip(farm.ports, farm.pids)), report)


def run_loadgen(args, service, calls, peers, report):
    """One load generator run: `calls` held calls to `service`, spread round-robin over
    `peers` ((SIP port on 127.0.0.1, pid) pairs; every pid is sampled, their figures
    summed), at P2's rate and hold. Returns its JSON report."""
    command = [str(LOADGEN), "--service", service, "--calls", str(calls),
               "--rate", str(args.media_rate), "--hold", str(args.media_hold),
               "--threads", "2", "--json", str(report)]
    for port, pid in peers:
        command += ["--target", f"127.0.0.1:{port}", "--host-pid", str(pid)]
    report.unlink(missing_ok=True)
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=2 * calls / args.media_rate + args.media_hold + 180)
    if done.returncode != 0 or not report.exists():
        raise SystemExit(f"bench: loadgen failed:\n{done.stderr[-3000:]}")
    return json.loads(report.read_text())


def pjsua_run(args, calls, processes, listen, number, prompt):
    ramp = calls / args.media_rate
    # Bounds every process: start-up, idle measurement, the load generator's runs.
    lifetime = processes * 0.5 + 60 + 2 * (2 * ramp + args.media_hold + 120)
    started = time.monotonic()
    farm = PjsuaFarm(WORK / "p2-pjsua" / "peers", processes, lifetime, listen, prompt)
    name = f"{calls}-{'listen' if listen else 'nolisten'}-{number}"
    one_each = None
    try:
        startup_s = time.monotonic() - started
        time.sleep(2)  # let the last batch finish starting up
        cpu_before, idle_started = farm.cpu_seconds(), time.monotonic()
        time.sleep(args.pjsua_idle_seconds)
        idle_cpu, idle_s = farm.cpu_seconds() - cpu_before, time.monotonic() - idle_started
        rss_idle = farm.rss_kib()
        if args.pjsua_increment:
            # One call per process first: what a process's first call costs beyond idle
            # (it starts the conference bridge's clock thread), so that the full load
            # tells the cost of each further call.
            one_each = pjsua_load(args, farm, processes, WORK / "p2-pjsua" / f"loadgen-{name}-one-each.json")
            time.sleep(2)
        figures = pjsua_load(args, farm, calls, WORK / "p2-pjsua" / f"loadgen-{name}.json")
        rss_after = farm.rss_kib()
    finally:
        peers = farm.stop()
    host = figures["host"]
    held = figures["calls"]["held_at_window_end"]
    window = figures["timing"]["steady_window_s"]
    idle_cores = idle_cpu / idle_s
    gross = host["cores_used"]
    marginal = gross - idle_cores if gross is not None else None
    reported = [peer for peer in peers if peer]
    increment = one_each_gross = None
    if one_each:
        one_each_gross = one_each["host"]["cores_used"]
        further_calls = held - one_each["calls"]["held_at_window_end"]
        if gross is not None and one_each_gross is not None and further_calls > 0:
            increment = (gross - one_each_gross) / further_calls

    def peer_sum(key):
        return sum(peer.get(key, 0) for peer in reported)

    row = {
        "calls": calls, "processes": processes, "listen": listen, "run": number,
        "established": figures["calls"]["established"], "failed": figures["calls"]["failed"],
        "failed_by_status": figures["calls"]["failed_by_status"],
        "dropped": figures["calls"]["dropped"], "held": held,
        "invite_retransmissions": figures["signalling"]["invite_retransmissions"],
        "sent_to_peer": figures["to_host"]["packets_sent"],
        "frames_skipped_by_generator": figures["to_host"]["frames_skipped"],
        # pjsua2's own RTP counters, read as each stream ended (bench/peers/pjsua_prompt.py),
        # over both loads when --pjsua-increment ran the one-call-each load first.
        "sent_to_peer_all_loads": figures["to_host"]["packets_sent"]
        + (one_each["to_host"]["packets_sent"] if one_each else 0),
        "peers_reported": len(reported), "peer_streams": peer_sum("streams"),
        "peer_received": peer_sum("rx_packets"), "lost_to_peer": peer_sum("rx_lost"),
        "peer_discarded": peer_sum("rx_discarded"), "peer_sent": peer_sum("tx_packets"),
        "peer_media_active": peer_sum("media_active"),
        "received_from_peer": figures["from_host"]["packets_received"],
        "lost_from_peer": figures["from_host"]["lost"],
        "late_from_peer": figures["from_host"]["late"],
        "pacing_p99_ms": figures["host_pacing"]["p99_ms"],
        "idle_cores": idle_cores, "idle_seconds": round(idle_s, 2),
        "gross_cores": gross, "marginal_cores": marginal,
        "calls_per_core_gross": held / gross if gross else None,
        "calls_per_core_marginal": held / marginal if marginal and marginal > 0 else None,
        # With one call per process: its established calls and cores; then the cores each
        # further call adds (the 2nd to 4th of every process), and its inverse.
        "one_each_established": one_each["calls"]["established"] if one_each else None,
        "one_each_gross_cores": one_each_gross,
        "increment_cores_per_call": increment,
        "calls_per_core_increment": 1 / increment if increment and increment > 0 else None,
        "rss_per_process_idle_kib": round(statistics.mean(rss_idle)),
        "rss_per_process_kib": round(statistics.mean(rss_after)),
        "rss_per_call_kib": host["rss_per_call_kib"],
        "generator_cores": figures["generator"]["cores_used_in_window"],
        "window_s": window, "startup_s": round(startup_s, 1),
    }
    log(f"P2 pjsua2 {calls} calls ({processes} processes, listen {listen}) run {number}: {row}")
    return row


# ---------------------------------------------------------------- P6 hot reload

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z)")


def log_time(line):
    match = LOG_TIME.match(line)
    if not match:
        return None
    return datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()


def bench_p6(args, results):
    """Swap answer-hangup 1.0.0 for 2.0.0 (an atomic rename into the watched
    directory) in the middle of a 500 CPS run."""
    runs = []
    new_build = WORK / "plugins-v2" / "answer-hangup.wasm"
    for repetition in range(args.reps):
        host = Host("p6-host", ["answer-hangup"],
                    log_filter="warn,callhost::call=info,callhost_runtime::registry=info")
        try:
            rate, seconds = 500, 12
            load = subprocess.Popen(
                [sys.executable, __file__, "--uac-only", str(rate), str(rate * seconds)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
            time.sleep(5)
            staged = host.plugins / ".answer-hangup.wasm.new"
            shutil.copy(new_build, staged)
            renamed_at = time.time()
            os.rename(staged, host.plugins / "answer-hangup.wasm")
            counters = json.loads(load.communicate(timeout=seconds + 120)[0])
        finally:
            host.stop()
        loaded_at = first_new = last_old = None
        for line in host.log_text().splitlines():
            if 'version="2.0.0"' in line and "plugin reloaded" in line and loaded_at is None:
                loaded_at = log_time(line)
            elif 'app.version="2.0.0"' in line and first_new is None:
                first_new = log_time(line)
            elif 'app.version="1.0.0"' in line and "incoming call" not in line:
                last_old = log_time(line)
        run = {
            "calls": counters["calls"], "successful": counters["successful"],
            "failed": counters["failed"], "retransmissions": counters["retransmissions"],
            "loaded_ms": round((loaded_at - renamed_at) * 1000, 1) if loaded_at else None,
            "first_new_call_ms": round((first_new - renamed_at) * 1000, 1) if first_new else None,
            "old_version_last_line_ms": round((last_old - renamed_at) * 1000, 1) if last_old else None,
        }
        runs.append(run)
        log(f"P6 run {repetition + 1}: {run}")
    results["P6"] = runs


# ---------------------------------------------------------------- soak


def bench_soak(args, results):
    """Half the measured (or given) P1 rate for --soak-seconds: every call must
    succeed, and the host's RSS, open files and UDP sockets must not grow."""
    rate = args.soak_rate
    if not rate:
        best = [run["best"] for run in results.get("P1", {}).get("callhost", [])]
        rate = int(statistics.median(best) / 2) if best else 1000
    calls = int(rate * args.soak_seconds)
    host = Host("soak-host", ["answer-hangup"])
    samples = []
    try:
        load = subprocess.Popen(
            [sys.executable, __file__, "--uac-only", str(rate), str(calls)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        while load.poll() is None and time.monotonic() - started < args.soak_seconds + 180:
            samples.append({
                "t": round(time.monotonic() - started, 1), "rss_kib": proc_rss_kib(host.pid),
                "fds": proc_fds(host.pid), "udp": proc_udp_sockets(host.pid),
            })
            time.sleep(5)
        counters = json.loads(load.communicate(timeout=60)[0])
        samples.append({"t": round(time.monotonic() - started, 1), "rss_kib": proc_rss_kib(host.pid),
                        "fds": proc_fds(host.pid), "udp": proc_udp_sockets(host.pid), "after": True})
    finally:
        host.stop()
    steady = [sample for sample in samples if not sample.get("after")]
    # The first third is warm-up (the instance pool's slots and malloc's arenas fill once);
    # a leak shows as growth from the middle third to the last.
    third = max(len(steady) // 3, 1)
    middle, last = steady[third:2 * third] or steady[:1], steady[-third:]
    result = {
        "rate": rate, "seconds": args.soak_seconds, "calls": calls,
        "successful": counters["successful"], "failed": counters["failed"],
        "retransmissions": counters["retransmissions"],
        "rss_middle_third_kib": int(statistics.mean(s["rss_kib"] for s in middle)),
        "rss_last_third_kib": int(statistics.mean(s["rss_kib"] for s in last)),
        "fds_max": max(s["fds"] for s in samples), "fds_after": samples[-1]["fds"],
        "udp_max": max(s["udp"] for s in samples), "udp_after": samples[-1]["udp"],
        "samples": samples,
    }
    log(f"soak: {dict((k, v) for k, v in result.items() if k != 'samples')}")
    results["soak"] = result


# ---------------------------------------------------------------- report


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) // (1024 * 1024)
    sipp_version = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    sipp_version = (re.search(r"SIPp (v[\w.\-]+)", sipp_version) or [None, "?"])[1]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model, "cores": os.cpu_count(), "memory_gib": memory,
        "kernel": platform.release(), "sipp": sipp_version, "rustc": rustc,
    }


def median_of(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def render(results, markdown=REPO / "BENCHMARKS.md"):
    """BENCHMARKS.md: the machine, then one table per figure, then the hand-written
    analysis in bench/NOTES.md."""
    info = results["machine"]
    lines = [
        "# callhost benchmarks",
        "",
        "Written by `scripts/bench` (bench/run.py); do not edit by hand — the analysis lives in",
        "`bench/NOTES.md` and is appended below. Each figure is measured side by side with its",
        "anchor in one run on the same machine; medians with the spread (min–max over the runs).",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux {info['kernel']}",
        f"- peers: SIPp {info['sipp']}, pjsua2 (PyPI pjsua2-python 2.15.1), {info['rustc']}",
        "",
        "| figure | measured | command |",
        "|---|---|---|",
    ]
    for figure, when in sorted(results.get("measured", {}).items()):
        lines.append(f"| {figure} | {when['date']} | `scripts/bench {when['arguments']}` |".replace(" `", " `", 1))
    lines.append("")
    if "P1" in results:
        runs = results["P1"]
        lines += [
            "## P1 call rate (SIPp uac ladder; answer, then the answering side hangs up)",
            "",
            "Highest rate with 0 failed calls and 0 retransmissions (target: callhost ≥ 2,000 CPS with",
            "a fresh Wasm instance per call).",
            "",
            "| answering side | clean CPS, median (min–max) | runs | vs SIPp uas |",
            "|---|---|---|---|",
        ]
        ceiling = median_of([run["best"] for run in runs.get("sipp-uas", [])])
        for name, label in (("callhost", "callhost (answer-hangup.wasm)"),
                            ("sipp-uas", "SIPp uas (the machine's ceiling)"),
                            ("pjsua2", "pjsua2 answering machine")):
            best = [run["best"] for run in runs.get(name, [])]
            if not best:
                continue
            ratio = f"{median_of(best) / ceiling:.2f}" if ceiling else "n/a"
            lines.append(f"| {label} | {median_of(best):g} ({min(best)}–{max(best)}) | {len(best)} | {ratio} |")
        lines += ["", "First failing step of each ladder (what stopped it):", ""]
        for name, ladders in runs.items():
            for index, run in enumerate(ladders):
                failing = [step for step in run["steps"] if not step["clean"]]
                if failing:
                    step = failing[0]
                    lines.append(
                        f"- {name} run {index + 1}: at {step['rate']} CPS {step['successful']}/{step['calls']}"
                        f" ok, {step['failed']} failed, {step['retransmissions']} retransmissions")
                else:
                    lines.append(f"- {name} run {index + 1}: clean up to the ladder's top ({run['best']} CPS)")
        lines.append("")
    if "P3" in results:
        figures = results["P3"]
        lines += [
            "## P3 instantiation (store + WASI context + instance, pooling allocator)",
            "",
            "Target: p50 ≤ 10 µs, p99 ≤ 30 µs. 2,000 calls of `answer-hangup.wasm` per run.",
            "",
            "| figure | p50 µs, median (min–max) | p99 µs, median (min–max) |",
            "|---|---|---|",
        ]
        for key, label in (("instantiate", "instantiate"), ("whole_call", "instantiate + run main (fake call)")):
            p50 = [figure[key]["p50_us"] for figure in figures if key in figure]
            p99 = [figure[key]["p99_us"] for figure in figures if key in figure]
            if p50:
                lines.append(f"| {label} | {median_of(p50):g} ({min(p50)}–{max(p50)}) | "
                             f"{median_of(p99):g} ({min(p99)}–{max(p99)}) |")
        lines.append("")
    if "P2" in results or "P2-pjsua2" in results:
        lines += render_media(results.get("P2", []), results.get("P2-pjsua2", []))
    if "P6" in results:
        runs = results["P6"]
        lines += [
            "## P6 hot reload under load (500 CPS of answer-hangup; 2.0.0 renamed over 1.0.0 after 5 s)",
            "",
            "Target: the new version serving within 250 ms of the rename, 0 failed calls.",
            "",
            "| run | loaded (ms after rename) | first call on 2.0.0 (ms) | calls ok / failed / retransmissions |",
            "|---|---|---|---|",
        ]
        for index, run in enumerate(runs):
            lines.append(f"| {index + 1} | {run['loaded_ms']} | {run['first_new_call_ms']} | "
                         f"{run['successful']} / {run['failed']} / {run['retransmissions']} |")
        lines.append("")
    if "soak" in results:
        soak = results["soak"]
        lines += [
            f"## Soak ({soak['seconds']:g} s at {soak['rate']} CPS)",
            "",
            f"- calls: {soak['successful']} ok, {soak['failed']} failed, {soak['retransmissions']} retransmissions",
            f"- RSS: {soak['rss_middle_third_kib']} KiB (middle third) → {soak['rss_last_third_kib']} KiB (last third);"
            " the first third is warm-up",
            f"- open files: max {soak['fds_max']}, after {soak['fds_after']}; UDP sockets: max {soak['udp_max']},"
            f" after {soak['udp_after']}",
            "",
        ]
    notes = REPO / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    markdown.write_text("\n".join(lines))


def optional(value, form):
    return "n/a" if value is None else format(value, form)


def spread(values, form):
    """Median (min–max) of the values that are known."""
    values = [value for value in values if value is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return format(values[0], form)
    return f"{format(median_of(values), form)} ({format(min(values), form)}–{format(max(values), form)})"


def generator_kept_up(skipped, sent):
    """Whether a run enters the ratio: the generator sent (nearly) the whole load, skipping
    at most 1 % of its frames."""
    return skipped <= 0.01 * (sent + skipped)


def pjsua_run_counts(run):
    """Whether an anchor run enters the ratio (see generator_kept_up)."""
    return generator_kept_up(run["frames_skipped_by_generator"], run["sent_to_peer"])


def render_media(runs, anchor=()):
    """P2/P4/P5 rows, filled in from the load generator's JSON, then P2's pjsua2 anchor
    (when measured) and the ratio of the two."""
    targets = [
        "a loop. Targets: P2 ≥ 2 × pjsua2's calls per core (measured below, with many pjsua2",
        "processes of 4 calls each) with 0 lost; P4 ≤ 100 KB per call at 1,000 calls; P5 p99 ≤ 2 ms",
        "at 1,000 calls.",
    ] if anchor else [
        "a loop. Targets: P2 ≥ 2 × pjsua2's calls per core (pjsua2 2.15 held about 1,950 on one",
        "core) with 0 lost; P4 ≤ 100 KB per call at 1,000 calls; P5 p99 ≤ 2 ms at 1,000 calls.",
    ]
    lines = [
        "## P2 held media calls, P4 memory per call, P5 RTP pacing (bench/loadgen)",
        "",
        "Each call: the caller sends PCMU every 20 ms, the app (`prompt-loop.wasm`) plays a prompt in",
        *targets,
        "",
    ]
    if runs:
        lines += [
            "| calls | run | up / failed | lost to host / from host | late at host / from host | host cores | calls per core | RSS per call KiB | pacing p50 / p99 / max ms | generator: cores, skipped frames |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
    for run in runs:
        lines.append(
            f"| {run['calls']} | {run['run']} | {run['established']} / {run['failed'] + run['dropped']} | "
            f"{run['lost_to_host']} / {run['lost_from_host']} | {run['late_at_host']} / {run['late_from_host']} | "
            f"{run['host_cores']:.2f} | {run['calls_per_core']:.0f} | {run['rss_per_call_kib']:.1f} | "
            f"{run['pacing_p50_ms']:.2f} / {run['pacing_p99_ms']:.2f} / {run['pacing_max_ms']:.2f} | "
            f"{run['generator_cores']:.2f}, {run['frames_skipped_by_generator']} |")
    if runs:
        lines.append("")
    if not anchor:
        return lines
    lines += [
        "### P2's anchor: pjsua2, many processes of 4 calls each",
        "",
        "The same load against `bench/peers/pjsua_prompt.py` (PyPI pjsua2-python 2.15.1): it answers",
        "and plays the same prompt in a loop to each call through a player of its own. The wheel is",
        "built with PJSUA_MAX_CALLS = 4, so N calls need N/4 processes (loadgen spreads the calls",
        "round-robin over them and sums their CPU and RSS). Their CPU with no calls is measured first:",
        "*marginal* cores = cores with the calls − idle cores, which leaves out the per-process",
        "overhead the 4-call limit forces (the generous figure for pjsua2, and the anchor). \"decoded\":",
        "each call's received audio is connected to the null playback device, so pjsua2 decodes",
        "every received frame, as callhost does; without it pjsua2 only queues received RTP.",
        "*Per further call*: each run first holds one call per process, then 4; (cores with 4 −",
        "cores with 1) / (3 × processes) is what each further call costs, which also leaves out",
        "the conference bridge's clock thread that pjsua2 starts with a process's first call (the",
        "most generous figure; a single pjsua2 process holding every call would pay that once).",
        "\"Lost to pjsua2\" is pjsua2's own count (its streams' RTCP statistics at hang-up, both",
        "loads). A run in",
        "which the generator skipped more than 1 % of its frames had a saturated machine (the",
        "generator could not send the load) and is left out of the ratio.",
        "",
        "| calls | processes | received audio | run | up / failed | lost to pjsua2 / from pjsua2 | late from pjsua2 | idle cores | cores with 1 call each / with all | marginal cores | calls per core: gross / marginal / per further call | RSS per process MiB | generator: cores, skipped frames |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in anchor:
        lines.append(
            f"| {run['calls']} | {run['processes']} | {'decoded' if run['listen'] else 'not decoded'} | "
            f"{run['run']} | {run['established']} / {run['failed'] + run['dropped']} | "
            f"{run['lost_to_peer']} / {run['lost_from_peer']} | {run['late_from_peer']} | "
            f"{run['idle_cores']:.2f} | {optional(run.get('one_each_gross_cores'), '.2f')} / "
            f"{optional(run['gross_cores'], '.2f')} | "
            f"{optional(run['marginal_cores'], '.2f')} | {optional(run['calls_per_core_gross'], '.0f')} / "
            f"{optional(run['calls_per_core_marginal'], '.0f')} / "
            f"{optional(run.get('calls_per_core_increment'), '.0f')} | {run['rss_per_process_kib'] / 1024:.1f} | "
            f"{optional(run['generator_cores'], '.2f')}, {run['frames_skipped_by_generator']} |")
    lines.append("")
    # The headline: callhost's calls per core over pjsua2's, at the same number of calls
    # when callhost was measured there (else at 1,000), for each measured anchor. Runs in
    # which the generator could not send the load are left out on both sides.
    by_calls = {}
    for run in runs:
        if generator_kept_up(run["frames_skipped_by_generator"], run["sent_to_host"]):
            by_calls.setdefault(run["calls"], []).append(run["calls_per_core"])
    fallback = 1000 if 1000 in by_calls else min(by_calls, default=None)
    groups = {}
    for run in anchor:
        if not pjsua_run_counts(run):
            continue
        group = groups.setdefault((run["calls"], run["listen"]), ([], []))
        group[0].append(run["calls_per_core_marginal"])
        group[1].append(run.get("calls_per_core_increment"))
    lines += [
        "| P2 (target: ratio ≥ 2) | callhost calls per core | pjsua2 marginal calls per core | ratio | pjsua2 calls per core, per further call | ratio |",
        "|---|---|---|---|---|---|",
    ]

    def ratio(ours, theirs):
        return f"{ours / theirs:.2f}" if ours and theirs else "n/a"

    for (calls, listen), (marginal, increment) in sorted(
            groups.items(), key=lambda item: (item[0][0], not item[0][1])):
        reference = calls if calls in by_calls else fallback
        ours = median_of(by_calls.get(reference, []))
        lines.append(
            f"| callhost at {optional(reference, ',')} calls vs pjsua2 at {calls:,} calls "
            f"({'received audio decoded' if listen else 'received audio not decoded'}) | "
            f"{spread(by_calls.get(reference, []), ',.0f')} | {spread(marginal, ',.0f')} | "
            f"{ratio(ours, median_of(marginal))} | "
            f"{spread(increment, ',.0f')} | {ratio(ours, median_of(increment))} |")
    lines.append("")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="P1,P2,P3,P6",
                        help="comma-separated figures to measure (P1,P2,P3,P6,soak; P2pjsua: only P2's "
                             "pjsua2 anchor; 'none' only rewrites BENCHMARKS.md)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each figure")
    parser.add_argument("--step-seconds", type=float, default=5.0,
                        help="seconds of calls per P1 ladder step")
    parser.add_argument("--max-rate", type=int, default=6000)
    parser.add_argument("--json", default=str(REPO / "bench" / "results.json"),
                        help="results file; figures not measured in this run are kept from it")
    parser.add_argument("--media-calls", default="400,1000",
                        help="held-call counts for P2/P4/P5, comma-separated")
    parser.add_argument("--media-rate", type=int, default=200, help="call set-up rate for P2")
    parser.add_argument("--media-hold", type=int, default=20, help="seconds every P2 call is held")
    parser.add_argument("--pjsua-media-calls", default="400",
                        help="held-call counts for P2's pjsua2 anchor, comma-separated, each a "
                             "multiple of 4 (one pjsua2 process per 4 calls); '' skips the anchor")
    parser.add_argument("--pjsua-listen", choices=("on", "off", "both"), default="on",
                        help="pjsua2 decodes the received audio (on: like callhost, which decodes "
                             "every frame), or only plays the prompt (off), or both variants")
    parser.add_argument("--pjsua-increment", action=argparse.BooleanOptionalAction, default=True,
                        help="before the full load, hold one call per pjsua2 process to measure "
                             "what each further call costs")
    parser.add_argument("--pjsua-idle-seconds", type=float, default=10,
                        help="seconds the pjsua2 processes' idle CPU is measured before the calls")
    parser.add_argument("--markdown", default=str(REPO / "BENCHMARKS.md"),
                        help="where the report is written")
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--soak-rate", type=int, default=0,
                        help="calls per second for the soak (default: half the P1 result)")
    parser.add_argument("--uac-only", nargs=2, type=int, metavar=("RATE", "CALLS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.uac_only:
        # A background load for P6 and the soak: one SIPp uac run, its counters as JSON.
        rate, calls = args.uac_only
        counters = sipp_uac(rate, calls, WORK / "uac-only", limit=rate * 4, wait=120)
        counters.update(rate=rate, calls=calls)
        print(json.dumps(counters))
        return
    wanted = {name.strip().upper() for name in args.only.split(",")}
    results = {}
    if Path(args.json).exists():
        results = json.loads(Path(args.json).read_text())
    results["machine"] = machine()
    measured = results.setdefault("measured", {})
    keys = {"SOAK": "soak", "P2PJSUA": "P2-pjsua2"}
    figures = wanted & {"P1", "P2", "P3", "P6", "SOAK", "P2PJSUA"}
    if "P2" in wanted and counts(args.pjsua_media_calls):
        figures.add("P2PJSUA")
    for figure in figures:
        measured[keys.get(figure, figure)] = {"date": results["machine"]["date"],
                                              "arguments": " ".join(sys.argv[1:])}
    if "P1" in wanted:
        bench_p1(args, results)
    if "P3" in wanted:
        bench_p3(args, results)
    if "P2" in wanted:
        bench_p2(args, results)
    elif "P2PJSUA" in wanted:
        bench_p2_pjsua(args, results)
    if "P6" in wanted:
        bench_p6(args, results)
    if "SOAK" in wanted:
        bench_soak(args, results)
    Path(args.json).write_text(json.dumps(results, indent=2))
    render(results, Path(args.markdown))
    log(f"results in {args.json} and {args.markdown}")


if __name__ == "__main__":
    main()
