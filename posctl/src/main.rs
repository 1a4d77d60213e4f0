use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = posctl::cli::Cli::parse();
    match posctl::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("posctl: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
