//! Test guest "hello" version 2.0.0: answers, logs one line and exits 2.
//! Used by the hot-reload test as the replacement for the scenarios guest.

wit_bindgen::generate!({ path: "../../../../../wit", world: "app" });

use callhost::call::log::{Level, write};

struct Hello;

impl Guest for Hello {
    fn main(channel: Channel, _instance_id: String, _application_parameters: String, _outbound_parameters: Option<String>) -> i32 {
        write(Level::Info, "hello v2");
        match channel.answer() {
            Ok(()) => 2,
            Err(_) => -100,
        }
    }

    fn name() -> String {
        "hello".to_string()
    }

    fn version() -> String {
        "2.0.0".to_string()
    }
}

export!(Hello);
