//! Fuzz target `sip_message`: one received SIP message, as a UDP datagram and
//! as a message framed from a TCP stream, through callhost-sip's validator and,
//! when it passes, rsipstack's parse and the call layer's readers
//! (`callhost_sip::fuzzing::receive`; RFC 3261 §7, §8.2, §18.3, RFC 4475).
//! Seeds: `fuzz/corpus/sip_message` (RFC 4475 and RFC 5118 messages).

#![no_main]

use callhost_sip::Transport;
use callhost_sip::fuzzing::receive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    receive(bytes, Transport::Udp);
    receive(bytes, Transport::Tcp);
});
