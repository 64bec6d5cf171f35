use std::process::ExitCode;

fn main() -> ExitCode {
    gatehouse::cli::main()
}
