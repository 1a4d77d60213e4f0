//! The TLS of PostgreSQL connections: `sslmode` in a service's database URL, and the `sslmode` of a
//! dblink server. The test kit's instances have no TLS, so the tests that need a server with TLS turn it
//! on in an instance of their own.

use std::time::Duration;

use central::startup::Application;
use pos_shared::testkit::TestInstance;
use secrecy::{ExposeSecret, SecretString};

use crate::common::{central_config, central_database, replication_config};
use crate::transport::{issued_by_a_new_ca, session_ssl, with_query, write};

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_fails_clearly_and_prefer_or_disable_work() {
    let (instance, db) = central_database().await;
    let url = instance.app_url(&db);

    let (config, _) = central_config(
        with_query(&url, "sslmode=require"),
        Some(with_query(&instance.owner_url(&db), "sslmode=require")),
        replication_config(),
    );
    let err = match Application::build(config).await {
        Ok(_) => panic!("central started with sslmode=require on a server without TLS"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.starts_with(&format!(
            "cannot connect to the database at 127.0.0.1:{}/{db} with sslmode=require: ",
            instance.pg.port
        )) && err.contains("server does not support TLS"),
        "{err}"
    );
    assert!(!err.contains(&instance.app_password), "{err}");

    for mode in ["prefer", "disable"] {
        let (config, _) = central_config(
            with_query(&url, &format!("sslmode={mode}")),
            Some(with_query(
                &instance.owner_url(&db),
                &format!("sslmode={mode}"),
            )),
            replication_config(),
        );
        let app = Application::build(config)
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e:#}"));
        let health = format!("http://127.0.0.1:{}/health", app.port());
        tokio::spawn(app.run_until_stopped());
        assert_eq!(reqwest::get(&health).await.unwrap().status(), 200, "{mode}");
        let session =
            pos_shared::db::parse_url(&with_query(&url, &format!("sslmode={mode}")), "t").unwrap();
        assert!(!session_ssl(&pos_shared::db::connect(&session).await.unwrap()).await);
    }

    let unknown = pos_shared::db::parse_url(&with_query(&url, "sslmode=allow"), "t").unwrap_err();
    assert!(
        format!("{unknown:#}").contains("sslmode=\"allow\" is not one of"),
        "{unknown:#}"
    );
}

#[tokio::test]
async fn database_tls_is_negotiated_and_checked_as_sslmode_says() {
    let instance = TestInstance::start_dedicated().await.unwrap();
    let (ca, cert, key) = issued_by_a_new_ca(&["localhost"]);
    instance.pg.enable_tls(&cert, &key).await.unwrap();
    let db = instance
        .migrated_database("central", |url| async move {
            central::schema::migrate(
                &pos_shared::db::parse_url(&url, "test")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca);
    let (other_ca, _, _) = issued_by_a_new_ca(&["localhost"]);
    let other_ca_file = write(dir.path(), "other-ca.pem", &other_ca);
    let by_ip = instance.app_url(&db);
    // The certificate names localhost: the same server by that name (reached at 127.0.0.1).
    let by_name = SecretString::from(
        by_ip.expose_secret().replace("@127.0.0.1:", "@localhost:") + "?hostaddr=127.0.0.1",
    );
    let owner_by_name = SecretString::from(
        instance
            .owner_url(&db)
            .expose_secret()
            .replace("@127.0.0.1:", "@localhost:")
            + "?hostaddr=127.0.0.1",
    );
    let url = |base: &SecretString, query: &str| {
        let separator = if base.expose_secret().contains('?') {
            '&'
        } else {
            '?'
        };
        SecretString::from(format!("{}{separator}{query}", base.expose_secret()))
    };
    let ca_query = format!("sslrootcert={}", ca_file.display());

    // (URL, whether the session is over TLS; None: the connection is refused, with this in the error).
    let cases: Vec<(SecretString, Result<bool, &str>)> = vec![
        (url(&by_ip, "sslmode=disable"), Ok(false)),
        (url(&by_ip, "sslmode=prefer"), Ok(true)),
        // require checks no certificate (libpq's behaviour), unless given a CA file.
        (url(&by_ip, "sslmode=require"), Ok(true)),
        (
            url(
                &by_ip,
                &format!("sslmode=require&sslrootcert={}", other_ca_file.display()),
            ),
            Err("invalid peer certificate"),
        ),
        (
            url(&by_name, &format!("sslmode=verify-full&{ca_query}")),
            Ok(true),
        ),
        (
            url(&by_ip, &format!("sslmode=verify-full&{ca_query}")),
            Err("not valid for name"),
        ),
        (
            url(&by_ip, &format!("sslmode=verify-ca&{ca_query}")),
            Ok(true),
        ),
        (
            url(
                &by_name,
                &format!(
                    "sslmode=verify-full&sslrootcert={}",
                    other_ca_file.display()
                ),
            ),
            Err("invalid peer certificate"),
        ),
    ];
    for (case, expected) in cases {
        let shown = case.expose_secret().replace(&instance.app_password, "***");
        let config = pos_shared::db::parse_url(&case, "test").unwrap();
        match (pos_shared::db::connect(&config).await, expected) {
            (Ok(client), Ok(ssl)) => assert_eq!(session_ssl(&client).await, ssl, "{shown}"),
            (Err(e), Err(text)) => {
                let err = format!("{e:#}");
                assert!(err.contains(text), "{shown}: {err}");
            }
            (Ok(_), Err(text)) => panic!("{shown} connected; expected {text}"),
            (Err(e), Ok(_)) => panic!("{shown}: {e:#}"),
        }
    }

    // The service itself: every connection it holds is over TLS, the certificate checked.
    let (config, _) = central_config(
        url(&by_name, &format!("sslmode=verify-full&{ca_query}")),
        Some(url(
            &owner_by_name,
            &format!("sslmode=verify-full&{ca_query}"),
        )),
        replication_config(),
    );
    let app = Application::build(config).await.expect("central starts");
    let health = format!("http://127.0.0.1:{}/health", app.port());
    tokio::spawn(app.run_until_stopped());
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    let admin = instance.pg.superuser_client("postgres").await.unwrap();
    let sessions = || async {
        let row = admin
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl)
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.datname = $1 AND a.application_name = 'central'",
                &[&db],
            )
            .await
            .unwrap();
        (row.get::<_, i64>(0), row.get::<_, i64>(1))
    };
    // The pool's sessions and the replication listener's (which connects on its own task).
    crate::common::eventually(
        "central's sessions are open",
        Duration::from_secs(10),
        || async { sessions().await.0 >= 2 },
    )
    .await;
    let (all, over_tls) = sessions().await;
    assert_eq!(over_tls, all, "every session of central is over TLS");
}

#[tokio::test]
async fn a_dblink_server_takes_its_sslmode_from_set_dblink_tls() {
    let tls_instance = TestInstance::start_dedicated().await.unwrap();
    let (_, cert, key) = issued_by_a_new_ca(&["localhost"]);
    tls_instance.pg.enable_tls(&cert, &key).await.unwrap();
    let peer = tls_instance.create_database(None).await.unwrap();
    let (plain_instance, db) = central_database().await;
    let client = pos_shared::db::connect(
        &pos_shared::db::parse_url(&plain_instance.app_url(&db), "test").unwrap(),
    )
    .await
    .unwrap();
    let define = |server: &'static str, instance: &TestInstance, peer: String| {
        let (port, password) = (
            i32::from(instance.pg.port),
            instance.replicator_password.clone(),
        );
        let client = &client;
        async move {
            client
                .execute(
                    "SELECT define_dblink_server($1, '127.0.0.1', $2, $3, $4, $5)",
                    &[
                        &server,
                        &port,
                        &peer,
                        &pos_shared::pgctl::REPLICATOR_ROLE,
                        &password,
                    ],
                )
                .await
                .unwrap();
        }
    };
    let remote_ssl = |server: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT ssl FROM dblink($1, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
                     AS t(ssl boolean)",
                    &[&server],
                )
                .await
                .map(|row| row.get::<_, bool>(0))
        }
    };
    let options = |server: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT array_agg(o.option_name || '=' || o.option_value ORDER BY o.option_name)
                           FILTER (WHERE o.option_name LIKE 'ssl%')
                     FROM pg_foreign_server s CROSS JOIN LATERAL pg_options_to_table(s.srvoptions) o
                     WHERE s.srvname = $1",
                    &[&server],
                )
                .await
                .unwrap()
                .get::<_, Option<Vec<String>>>(0)
                .unwrap_or_default()
        }
    };
    let set = |server: &'static str, mode: Option<&'static str>, root: Option<&'static str>| {
        let client = &client;
        async move {
            client
                .execute(
                    "SELECT set_dblink_tls($1, $2, $3)",
                    &[&server, &mode, &root],
                )
                .await
        }
    };

    // A server with TLS takes either; libpq asks for it unless told otherwise.
    define("tls_peer", &tls_instance, peer.clone()).await;
    assert!(
        remote_ssl("tls_peer").await.unwrap(),
        "libpq's default, prefer"
    );
    set("tls_peer", Some("disable"), None).await.unwrap();
    assert!(!remote_ssl("tls_peer").await.unwrap());
    set("tls_peer", Some("verify-ca"), Some("/nonexistent/root.crt"))
        .await
        .unwrap();
    assert_eq!(
        options("tls_peer").await,
        ["sslmode=verify-ca", "sslrootcert=/nonexistent/root.crt"]
    );
    let err = remote_ssl("tls_peer").await.unwrap_err();
    assert!(
        format!("{err:?}").contains("root.crt"),
        "libpq reads the CA file it is given: {err:?}"
    );
    set("tls_peer", Some("require"), None).await.unwrap();
    assert_eq!(options("tls_peer").await, ["sslmode=require"]);
    assert!(remote_ssl("tls_peer").await.unwrap());
    set("tls_peer", None, None).await.unwrap();
    assert!(options("tls_peer").await.is_empty());

    // A server without TLS: sslmode=require is refused by libpq, with its reason.
    define("plain_peer", plain_instance, db.clone()).await;
    assert!(!remote_ssl("plain_peer").await.unwrap());
    set("plain_peer", Some("require"), None).await.unwrap();
    let err = remote_ssl("plain_peer").await.unwrap_err();
    let text = err
        .as_db_error()
        .map(|db| format!("{} {:?}", db.message(), db.detail()));
    assert!(
        text.as_deref().is_some_and(|t| t.contains("SSL")),
        "{err:?}"
    );
    let refused = set("plain_peer", Some("allow"), None).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE)
    );
}

/// The store node's link to central (a dblink server on the node's database) takes the `sslmode` and
/// `sslrootcert` of POS_CENTRAL_DATABASE_URL, and drops them when the URL no longer has them.
#[tokio::test]
async fn the_node_link_to_central_takes_the_sslmode_of_its_url() {
    let (central_pg, central_db) = central_database().await;
    let node = crate::common::TestNode::new(1).await;
    let central_url = central_pg.pg.url(
        pos_shared::pgctl::REPLICATOR_ROLE,
        &central_pg.replicator_password,
        &central_db,
    );
    let link_options = || async {
        node.db()
            .await
            .query_one(
                "SELECT array_agg(o.option_name || '=' || o.option_value ORDER BY o.option_name)
                       FILTER (WHERE o.option_name LIKE 'ssl%')
                 FROM pg_foreign_server s CROSS JOIN LATERAL pg_options_to_table(s.srvoptions) o
                 WHERE s.srvname = 'pos_central'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, Option<Vec<String>>>(0)
            .unwrap_or_default()
    };
    for (query, expected) in [
        (
            "?sslmode=verify-full&sslrootcert=%2Fetc%2Fpos%2Fca.pem",
            vec!["sslmode=verify-full", "sslrootcert=/etc/pos/ca.pem"],
        ),
        ("?sslmode=disable", vec!["sslmode=disable"]),
        ("", vec!["sslmode=prefer"]),
    ] {
        let config = store_node::config::Config {
            common: pos_shared::config::CommonConfig {
                http_host: "127.0.0.1".into(),
                http_port: 0,
                database_url: node.instance.app_url(&node.db_name),
                migration_database_url: Some(node.instance.owner_url(&node.db_name)),
                database_pool_size: 2,
                log_format: pos_shared::telemetry::LogFormat::Human,
                log_filter: "info".into(),
                scheduler_enabled: false,
                tls: None,
                metrics_token: None,
            },
            city_id: 1,
            cashier_tokens: Vec::new(),
            admin_token: None,
            admin_token_file: None,
            central_database_url: Some(SecretString::from(format!("{central_url}{query}"))),
            outbox_retry_cron: "*/1 * * * * *".into(),
            outbox_retention_hours: 168,
            idempotency_retention_hours: 720,
        };
        let app = store_node::startup::Application::build(config)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e:#}"));
        drop(app);
        assert_eq!(link_options().await, expected, "{query}");
    }
}
