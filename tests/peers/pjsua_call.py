#!/usr/bin/env python3
"""A real SIP phone for callhost's tests, built on pjsua2 (PyPI `pjsua2-python`).

It places one call to callhost (or, with --listen, waits for one call from callhost
and answers it), records what it hears to a WAV file, optionally plays a WAV file
into the call (--play; otherwise it sends silence), optionally
sends DTMF as RFC 4733 telephone-events once it has heard the prompt, collects the
DTMF the host sends back, and waits for the host to hang up. It prints one JSON
object on stdout that the Rust test asserts on:

    {"connected": true, "dtmf_received": "4711", "remote_hangup": true,
     "last_status": 200, "recording": "/tmp/x.wav", "codec": "PCMU", "seconds": 12.3}

--codec NAME makes it offer only that codec (pjsua2's wheel has PCMU, PCMA, G722,
GSM, iLBC, speex and L16; no Opus).

Everything binds 127.0.0.1 (SIP and RTP). The script ends by itself: it gives up
after --timeout seconds and hangs up.
"""

import argparse
import json
import sys
import time

import pjsua2 as pj


class Call(pj.Call):
    def __init__(self, account, endpoint, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.endpoint = endpoint
        self.recorder = None
        self.record_path = None
        self.player = None
        self.play_path = None
        self.connected_at = None
        self.disconnected = False
        self.dtmf = ""
        self.last_status = None
        self.remote_hangup = False
        self.hung_up_locally = False
        self.codec = None

    def onCallState(self, prm):
        info = self.getInfo()
        self.last_status = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.connected_at is None:
            self.connected_at = time.monotonic()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.remote_hangup = not self.hung_up_locally

    def onCallMediaState(self, prm):
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(index)
                try:
                    self.codec = self.getStreamInfo(index).codecName
                except pj.Error:
                    pass
                # Keep the stream on the conference bridge even without a recorder:
                # pjmedia only sends RTP (and so DTMF) for a port the bridge clocks.
                devices = self.endpoint.audDevManager()
                devices.getCaptureDevMedia().startTransmit(audio)
                audio.startTransmit(devices.getPlaybackDevMedia())
                if self.record_path and self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(self.record_path)
                    audio.startTransmit(self.recorder)

                if self.play_path and self.player is None:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.play_path)
                    self.player.startTransmit(audio)

    def onDtmfDigit(self, prm):
        self.dtmf += prm.digit


class Account(pj.Account):
    """Answers the first incoming call (callee mode)."""

    def __init__(self, endpoint, args):
        super().__init__()
        self.endpoint = endpoint
        self.args = args
        self.call = None
        self.incoming_at = None

    def onIncomingCall(self, prm):
        call = Call(self, self.endpoint, prm.callId)
        call.record_path = self.args.record
        call.play_path = self.args.play
        if self.call is not None:
            busy = pj.CallOpParam()
            busy.statusCode = 486
            call.hangup(busy)
            return
        self.call = call
        self.incoming_at = time.monotonic()
        ringing = pj.CallOpParam()
        ringing.statusCode = 180
        call.answer(ringing)


def read_rtcp(call):
    """pjmedia's RTCP view of the audio stream (None before media): `tx_*` come from
    the far end's reports about what we sent, `rtt_*` from its LSR/DLSR echo."""
    try:
        stat = call.getStreamStat(0).rtcp
    except pj.Error:
        return None
    return {
        "rx_packets": stat.rxStat.pkt,
        "rx_loss": stat.rxStat.loss,
        "tx_report_updates": stat.txStat.updateCount,
        "tx_loss": stat.txStat.loss,
        "tx_jitter_us": stat.txStat.jitterUsec.last,
        "rtt_count": stat.rttUsec.n,
        "rtt_last_us": stat.rttUsec.last,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", help="call this URI, e.g. sip:ivr@127.0.0.1:5060")
    parser.add_argument("--listen", type=int, default=0,
                        help="callee mode: listen on this UDP port and answer one call")
    parser.add_argument("--answer-after", type=float, default=0.5,
                        help="callee mode: seconds of ringing before answering")
    parser.add_argument("--ready-file", help="callee mode: touch this file once listening")
    parser.add_argument("--play", help="WAV file to play into the call (else silence)")
    parser.add_argument("--record", help="WAV file to record what the phone hears")
    parser.add_argument("--send-dtmf", default="", help="digits to send as RFC 4733")
    parser.add_argument("--dtmf-after", type=float, default=0.0,
                        help="seconds after the call connects before sending DTMF")
    parser.add_argument("--hangup-after", type=float, default=0.0,
                        help="hang up ourselves this many seconds after connecting (0: wait for the host)")
    parser.add_argument("--codec", default="",
                        help="offer only this codec (e.g. G722, PCMA; default PCMU then PCMA)")
    parser.add_argument("--timeout", type=float, default=40.0)
    args = parser.parse_args()
    if bool(args.uri) == bool(args.listen):
        parser.error("give exactly one of --uri and --listen")

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    endpoint.libInit(config)
    endpoint.audDevManager().setNullDev()

    transport = pj.TransportConfig()
    transport.port = args.listen
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    codecs = endpoint.codecEnum2()
    if args.codec:
        # Offer only the named codec (matched on the name before the first '/').
        wanted = [codec.codecId for codec in codecs
                  if codec.codecId.split("/")[0].lower() == args.codec.lower()]
        if not wanted:
            parser.error("pjsua2 has no codec %s (it has %s)"
                         % (args.codec, ", ".join(codec.codecId for codec in codecs)))
        for codec in codecs:
            endpoint.codecSetPriority(codec.codecId, 200 if codec.codecId in wanted else 0)
    else:
        # Offer G.711 only (PCMU first), the codecs every callhost serves.
        for codec in codecs:
            keep = codec.codecId.startswith("PCMU/") or codec.codecId.startswith("PCMA/")
            endpoint.codecSetPriority(codec.codecId, 200 if codec.codecId.startswith("PCMU/") else (150 if keep else 0))

    account_config = pj.AccountConfig()
    account_config.idUri = "sip:pjsua@127.0.0.1"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.port = 40000
    account_config.mediaConfig.transportConfig.portRange = 1000
    account = Account(endpoint, args)
    account.create(account_config)

    started = time.monotonic()
    if args.uri:
        call = Call(account, endpoint)
        call.record_path = args.record
        call.play_path = args.play
        call.makeCall(args.uri, pj.CallOpParam(True))
    else:
        if args.ready_file:
            open(args.ready_file, "w").close()
        while account.call is None and time.monotonic() - started < args.timeout:
            endpoint.libHandleEvents(10)
        call = account.call
        if call is None:
            print(json.dumps({"connected": False, "incoming": False, "timed_out": True}))
            endpoint.libDestroy()
            return 0
        answered = False

    dtmf_sent = False
    rtcp = None
    rtcp_read_at = 0.0
    while not call.disconnected and time.monotonic() - started < args.timeout:
        endpoint.libHandleEvents(10)
        if call.connected_at is not None and time.monotonic() - rtcp_read_at >= 0.5:
            rtcp = read_rtcp(call) or rtcp
            rtcp_read_at = time.monotonic()
        if args.listen and not answered and time.monotonic() - account.incoming_at >= args.answer_after:
            ok = pj.CallOpParam()
            ok.statusCode = 200
            call.answer(ok)
            answered = True
        if call.connected_at is None:
            continue
        elapsed = time.monotonic() - call.connected_at
        if args.send_dtmf and not dtmf_sent and elapsed >= args.dtmf_after:
            param = pj.CallSendDtmfParam()
            param.digits = args.send_dtmf
            param.method = pj.PJSUA_DTMF_METHOD_RFC2833
            call.sendDtmf(param)
            dtmf_sent = True
        if args.hangup_after and elapsed >= args.hangup_after:
            call.hung_up_locally = True
            call.hangup(pj.CallOpParam(True))
            args.hangup_after = 0.0

    timed_out = not call.disconnected
    if timed_out:
        call.hung_up_locally = True
        try:
            call.hangup(pj.CallOpParam(True))
        except pj.Error:
            pass
        deadline = time.monotonic() + 3
        while not call.disconnected and time.monotonic() < deadline:
            endpoint.libHandleEvents(10)

    result = {
        "connected": call.connected_at is not None,
        "dtmf_received": call.dtmf,
        "dtmf_sent": args.send_dtmf if dtmf_sent else "",
        "remote_hangup": call.remote_hangup,
        "timed_out": timed_out,
        "last_status": call.last_status,
        "recording": args.record,
        "codec": call.codec,
        "rtcp": rtcp,
        "seconds": round(time.monotonic() - started, 2),
    }
    # Drop pjsua objects before the library goes, or pjsua2 may crash on exit.
    if call.recorder is not None:
        del call.recorder
    if call.player is not None:
        del call.player
    account.call = None
    del call
    endpoint.libDestroy()
    print(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
