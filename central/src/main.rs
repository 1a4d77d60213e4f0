use central::config::Config;
use central::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("central: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    pos_shared::telemetry::init(config.common.log_format, &config.common.log_filter);
    let app = Application::build(config).await?;
    app.run_until_stopped().await
}
