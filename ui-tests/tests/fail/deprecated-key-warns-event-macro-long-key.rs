#![deny(deprecated)]

fn main() {
    maestro_trace::event!("peer_connected", net.sock.peer.addr = "10.0.0.7");
}
