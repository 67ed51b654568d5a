#!/usr/bin/env python3
"""The call-rate benchmark's pjsua2 anchor: an answering machine built on pjsua2
(PyPI `pjsua2-python`) that does what callhost's answer-hangup app does: answer each
incoming call at once (200 with SDP) and hang up (BYE) as soon as it is confirmed.

Binds 127.0.0.1 (SIP and RTP). Runs until --seconds pass, then prints one JSON
object: {"answered": N, "hung_up": N}. Note: the PyPI wheel is built with
PJSUA_MAX_CALLS = 4, so at most 4 calls can be up at once; beyond that pjsua2
answers 486 by itself, which the benchmark counts as failed calls.
"""

import argparse
import json
import time

import pjsua2 as pj

from pjsua_common import account_config, answer, start_endpoint


class Call(pj.Call):
    def __init__(self, account, call_id):
        super().__init__(account, call_id)
        self.account = account
        self.hung_up = False

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.hung_up:
            self.hung_up = True
            self.account.hung_up += 1
            self.hangup(pj.CallOpParam(True))
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.account.calls.discard(self)


class Account(pj.Account):
    def __init__(self):
        super().__init__()
        self.calls = set()
        self.answered = 0
        self.hung_up = 0

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        self.calls.add(call)
        answer(call)
        self.answered += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="SIP UDP port on 127.0.0.1")
    parser.add_argument("--seconds", type=float, required=True, help="run this long, then exit")
    parser.add_argument("--ready-file", help="touch this file once listening")
    args = parser.parse_args()

    endpoint = start_endpoint(args.port)
    # RTP from 42000 (the answer's SDP needs a port; no media flows).
    account_settings = account_config(42000, 1000)
    account = Account()
    account.create(account_settings)
    if args.ready_file:
        open(args.ready_file, "w").close()

    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        endpoint.libHandleEvents(10)
    print(json.dumps({"answered": account.answered, "hung_up": account.hung_up}), flush=True)
    endpoint.libDestroy()


if __name__ == "__main__":
    main()
