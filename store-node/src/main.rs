#[tokio::main]
async fn main() -> std::process::ExitCode {
    pos_shared::service::main(store_node::startup::Application::build).await
}
