use samvirke as _;
fn main() {}
