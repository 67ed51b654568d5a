#!/usr/bin/env python3
"""The held-media-calls benchmark's (P2) pjsua2 anchor: an answering machine built on
pjsua2 (PyPI `pjsua2-python`) that does what callhost's prompt-loop app does: answer
each incoming call at once (200 with SDP, PCMU preferred) and, once its media is up,
play a prompt WAV to it in a loop through a player of its own (one pj.AudioMediaPlayer
per call, as every callhost app instance plays its own prompt) until the caller hangs up.

--listen (the default; --no-listen turns it off) also connects each call's audio to the
null playback device, so pjsua2's conference bridge pulls every received frame out of
the jitter buffer and decodes it. callhost decodes every received frame (in-band DTMF
detection), so that is the like-for-like variant; without it pjsua2 only queues the
received RTP in the jitter buffer.

Binds 127.0.0.1 (SIP and RTP). The PyPI wheel is built with PJSUA_MAX_CALLS = 4, so one
process holds at most 4 calls (a fifth is answered 486 by pjsua2 itself); the benchmark
runs many processes, each with its own SIP port (--port) and RTP port range (--rtp-port,
--rtp-port-range: RTP on even ports, RTCP on the next odd one). Threads: the main thread
(SIP, every callback), one media I/O thread and the null sound device's clock thread.

Runs until --seconds pass or SIGTERM/SIGINT, then prints one JSON object: {"answered",
"media_active", "players", "disconnected", "streams": audio streams whose figures were
read when they ended, "rx_packets", "rx_lost", "rx_discarded", "rx_duplicates",
"rx_reordered", "tx_packets": pjsua2's own RTP counters, summed over those streams}.
"""

import argparse
import json
import signal
import time

import pjsua2 as pj

from pjsua_common import account_config, answer, start_endpoint


class Call(pj.Call):
    def __init__(self, account, call_id):
        super().__init__(account, call_id)
        self.account = account
        self.player = None

    def onCallMediaState(self, prm):
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if (media.type != pj.PJMEDIA_TYPE_AUDIO
                    or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE
                    or self.player is not None):
                continue
            audio = self.getAudioMedia(index)
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.account.prompt)  # loops by default
            self.player.startTransmit(audio)
            if self.account.listen:
                audio.startTransmit(self.account.playback)
            self.account.media_active += 1
            self.account.players += 1

    def onStreamDestroyed(self, prm):
        # The stream still exists here: its RTCP figures are its own RTP counters.
        try:
            stat = self.getStreamStat(prm.streamIdx)
        except pj.Error:
            return
        received, sent = stat.rtcp.rxStat, stat.rtcp.txStat
        totals = self.account.stream_totals
        totals["streams"] += 1
        totals["rx_packets"] += received.pkt
        totals["rx_lost"] += received.loss
        totals["rx_discarded"] += received.discard
        totals["rx_duplicates"] += received.dup
        totals["rx_reordered"] += received.reorder
        totals["tx_packets"] += sent.pkt

    def onCallState(self, prm):
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.account.disconnected += 1
            self.player = None
            self.account.calls.discard(self)


class Account(pj.Account):
    def __init__(self, prompt, listen, playback):
        super().__init__()
        self.prompt = prompt
        self.listen = listen
        self.playback = playback
        self.calls = set()
        self.answered = 0
        self.media_active = 0
        self.players = 0
        self.disconnected = 0
        self.stream_totals = dict.fromkeys(
            ("streams", "rx_packets", "rx_lost", "rx_discarded", "rx_duplicates",
             "rx_reordered", "tx_packets"), 0)

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        self.calls.add(call)
        answer(call)
        self.answered += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="SIP UDP port on 127.0.0.1")
    parser.add_argument("--rtp-port", type=int, default=42000,
                        help="first RTP port of this process (even)")
    parser.add_argument("--rtp-port-range", type=int, default=20,
                        help="RTP/RTCP ports this process may use from --rtp-port on")
    parser.add_argument("--prompt", required=True, help="WAV file (8 kHz mono) played in a loop")
    parser.add_argument("--listen", action=argparse.BooleanOptionalAction, default=True,
                        help="decode the received audio (connect it to the null playback device)")
    parser.add_argument("--seconds", type=float, required=True, help="run at most this long")
    parser.add_argument("--poll-ms", type=int, default=100,
                        help="longest wait of the main thread's SIP poll (it returns at once "
                             "when a message arrives or a timer is due; only idle wake-ups and "
                             "the reaction to SIGTERM depend on it)")
    parser.add_argument("--ready-file", help="touch this file once listening")
    args = parser.parse_args()

    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))

    endpoint = start_endpoint(args.port, media_threads=1)
    account_settings = account_config(args.rtp_port, args.rtp_port_range)
    account = Account(args.prompt, args.listen, endpoint.audDevManager().getPlaybackDevMedia())
    account.create(account_settings)
    if args.ready_file:
        open(args.ready_file, "w").close()

    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not stopping:
        endpoint.libHandleEvents(args.poll_ms)
    for call in list(account.calls):
        # Calls still up (stopped early): hang up so their streams report their figures.
        try:
            call.hangup(pj.CallOpParam(True))
        except pj.Error:
            pass
    settle = time.monotonic() + 1
    while account.calls and time.monotonic() < settle:
        endpoint.libHandleEvents(10)
    print(json.dumps({
        "answered": account.answered, "media_active": account.media_active,
        "players": account.players, "disconnected": account.disconnected,
        **account.stream_totals,
    }), flush=True)
    endpoint.libDestroy()


if __name__ == "__main__":
    main()
