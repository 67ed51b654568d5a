"""What the benchmark's pjsua2 peers share: a pjsua2 endpoint on 127.0.0.1 that prefers
PCMU and has a null sound device, and the account that answers on it. Imported by the
scripts beside it (run as scripts, their own folder is on the import path)."""

import pjsua2 as pj

# The PyPI wheel is built with PJSUA_MAX_CALLS = 4.
MAX_CALLS = 4


def start_endpoint(sip_port, media_threads=None):
    """A started endpoint: SIP over UDP on 127.0.0.1:`sip_port`, every callback on the
    thread that calls libHandleEvents, 8 kHz mono, no VAD, null sound device, PCMU first.
    `media_threads`: pjmedia's I/O threads (pjsua2's default when None)."""
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.maxCalls = MAX_CALLS
    config.logConfig.level = 0
    config.logConfig.consoleLevel = 0
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    if media_threads is not None:
        config.medConfig.channelCount = 1
        config.medConfig.threadCnt = media_threads
    endpoint.libInit(config)
    endpoint.audDevManager().setNullDev()

    transport = pj.TransportConfig()
    transport.port = sip_port
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    for codec in endpoint.codecEnum2():
        endpoint.codecSetPriority(codec.codecId, 200 if codec.codecId.startswith("PCMU/") else 0)
    return endpoint


def account_config(rtp_port, rtp_port_range):
    """The answering account's configuration: sip:uas@127.0.0.1, RTP on 127.0.0.1 from
    `rtp_port` within `rtp_port_range` ports."""
    config = pj.AccountConfig()
    config.idUri = "sip:uas@127.0.0.1"
    media = config.mediaConfig.transportConfig
    media.boundAddress = "127.0.0.1"
    media.publicAddress = "127.0.0.1"
    media.port = rtp_port
    media.portRange = rtp_port_range
    return config


def answer(call):
    """Answer an incoming `call` at once: 200 with SDP."""
    reply = pj.CallOpParam(True)
    reply.statusCode = 200
    call.answer(reply)
