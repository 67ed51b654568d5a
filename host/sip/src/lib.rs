//! callhost-sip (placeholder until the SIP layer lands).
