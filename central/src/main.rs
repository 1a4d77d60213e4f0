#[tokio::main]
async fn main() -> std::process::ExitCode {
    pos_shared::service::main(central::startup::Application::build).await
}
