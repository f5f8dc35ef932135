//! The `dealsim` command; everything it does lives in the library.

fn main() -> std::process::ExitCode {
    dealsim::cli::main()
}
