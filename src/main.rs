//! The `accesswatch` binary: parse the command line and hand over to the
//! library; turn the outcome into an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use accesswatch::cli::exit::Exit;

fn main() -> ExitCode {
    let args = match accesswatch::cli::args::parse() {
        Ok(args) => args,
        Err(exit) => return exit.into(),
    };
    accesswatch::source::http::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("accesswatch: cannot start the async runtime: {e}");
            return Exit::SOFTWARE.into();
        }
    };
    let exit = runtime.block_on(accesswatch::cli::commands::dispatch(args));
    // Do not wait for blocked tasks (a hung SMTP connection) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    exit.into()
}
