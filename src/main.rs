//! `pcdr`: the command-line tool.

fn main() {
    println!("pcdr {}", env!("CARGO_PKG_VERSION"));
}
