//! Backup → loss → restore → reconcile with the real binary, for central and for a node, with the
//! recovery figures printed:
//! - central restored from a backup taken before 2 of its 3 sales: the node sends them again, none is
//!   lost; a price change made after the backup is gone at central and so at the node too (central's
//!   rows win), and the next price change reaches the node;
//! - the node restored from a backup taken before 2 of its sales: resynced at the next `up`, its next
//!   sale takes the number after central's last and central accepts it.
//!
//! Needs the service binaries: `cargo build -p central -p store-node` first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{Cluster, get_json, port_base, posctl};

struct Chain {
    http: reqwest::Client,
    central_url: String,
    admin: String,
    central_db: String,
    node_url: String,
    node_db: String,
    store: i32,
    cashier: String,
    product: i64,
}

impl Chain {
    fn read(cluster: &Cluster) -> Self {
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(cluster.dir.join("cluster.json")).unwrap(),
        )
        .unwrap();
        Self {
            // No kept-alive connections: the services restart under the test.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            central_url: doc["central"]["url"].as_str().unwrap().to_owned(),
            admin: doc["central"]["admin_token"].as_str().unwrap().to_owned(),
            central_db: doc["central"]["database_url"].as_str().unwrap().to_owned(),
            node_url: doc["nodes"][0]["url"].as_str().unwrap().to_owned(),
            node_db: doc["nodes"][0]["database_url"].as_str().unwrap().to_owned(),
            store: i32::try_from(doc["nodes"][0]["stores"][0]["id"].as_i64().unwrap()).unwrap(),
            cashier: doc["nodes"][0]["stores"][0]["cashier_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            product: 1,
        }
    }

    /// A sale of one unit; its store order number.
    async fn sell(&self) -> i64 {
        let response = self
            .http
            .post(format!("{}/orders", self.node_url))
            .bearer_auth(&self.cashier)
            .json(&json!({
                "idempotency_key": uuid::Uuid::new_v4(),
                "customer_id": null,
                "items": [{"product_id": self.product, "quantity": 1}],
                "payments": [{"method": "cash", "amount": "100000.00"}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["store_order_id"].as_i64().unwrap()
    }

    async fn central_sales(&self) -> i64 {
        let (db, connection) = tokio_postgres::connect(&self.central_db, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        db.query_one("SELECT count(*) FROM order_mapping", &[])
            .await
            .unwrap()
            .get(0)
    }

    async fn wait_central_sales(&self, want: i64) -> Duration {
        let started = Instant::now();
        while self.central_sales().await != want {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "central has {} sales, wanted {want}",
                self.central_sales().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        started.elapsed()
    }

    async fn price(&self, url: &str, token: &str) -> String {
        let products = get_json(&self.http, &format!("{url}/products?limit=1000"), token).await;
        products["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == self.product)
            .unwrap()["price"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn set_price(&self, price: &str) {
        let response = self
            .http
            .patch(format!("{}/products/{}", self.central_url, self.product))
            .bearer_auth(&self.admin)
            .json(&json!({ "price": price }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn wait_node_price(&self, want: &str) {
        let started = Instant::now();
        while self.price(&self.node_url, &self.cashier).await != want {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the node's price is not {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's stock of the product at `store`.
    async fn node_stock(&self, store: i32) -> i64 {
        let (db, connection) = tokio_postgres::connect(&self.node_db, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        db.query_opt(
            "SELECT quantity::bigint FROM inventory WHERE store_id = $1 AND product_id = $2",
            &[&store, &i32::try_from(self.product).unwrap()],
        )
        .await
        .unwrap()
        .map_or(0, |r| r.get(0))
    }

    /// `POST path` at `url` with `token`: the status and the answer.
    async fn post(&self, url: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{url}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn outbox_dead(&self) -> i64 {
        get_json(
            &self.http,
            &format!("{}/sync/status", self.node_url),
            &self.cashier,
        )
        .await["dead"]
            .as_i64()
            .unwrap()
    }
}

fn timed(args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = posctl(args);
    assert!(output.status.success(), "posctl {}", args.join(" "));
    started.elapsed()
}

/// `posctl down`, then `posctl restore --only only` from `backup`: how long the restore took.
fn down_and_restore(dir: &str, backup: &std::path::Path, only: &str) -> Duration {
    assert!(posctl(&["down", "--dir", dir]).status.success());
    let from = backup.to_str().unwrap();
    timed(&["restore", "--dir", dir, "--from", from, "--only", only])
}

#[tokio::test]
async fn backup_loss_restore_and_reconcile_for_central_and_for_a_node() {
    let mut cluster = Cluster::in_temp_dir("posctl-backup-");
    let dir = cluster.dir().to_owned();
    let base = port_base(2).to_string();
    let up = ["up", "--dir", &dir, "--detach"];
    let first_up = [
        &up[..],
        &["--cities", "Lahore", "--port-base", &base, "--demo-data"],
    ]
    .concat();
    timed(&first_up);
    let chain = Chain::read(&cluster);

    // Central: one sale before the backup, two after it, and a price change after it.
    chain.sell().await;
    chain.wait_central_sales(1).await;
    let central_backup = cluster.dir.with_file_name("central-backup");
    let backup_took = timed(&[
        "backup",
        "--dir",
        &dir,
        "--to",
        central_backup.to_str().unwrap(),
    ]);
    let price_at_backup = chain.price(&chain.central_url, &chain.admin).await;
    chain.sell().await;
    chain.sell().await;
    chain.wait_central_sales(3).await;
    chain.set_price("4321.00").await;
    chain.wait_node_price("4321.00").await;

    // The loss: central's database is replaced by its backup.
    let restore_took = down_and_restore(&dir, &central_backup, "central");
    assert_eq!(
        chain.central_sales().await,
        1,
        "the backup has the first sale only"
    );
    let up_took = timed(&up);
    let reconciled = chain.wait_central_sales(3).await;
    eprintln!(
        "central: backup {backup_took:?}, restore {restore_took:?}, up {up_took:?}, then all sales back at \
         central after {reconciled:?} (recovery point: the backup's start, sales lost: none)"
    );
    // Central's restored price wins at the node, and the next change reaches it.
    assert_eq!(
        chain.price(&chain.central_url, &chain.admin).await,
        price_at_backup
    );
    chain.wait_node_price(&price_at_backup).await;
    chain.set_price("1234.00").await;
    chain.wait_node_price("1234.00").await;

    // The node: a backup, two sales after it, then the node's database is replaced by the backup.
    let node_backup = cluster.dir.with_file_name("node-backup");
    timed(&[
        "backup",
        "--dir",
        &dir,
        "--to",
        node_backup.to_str().unwrap(),
    ]);
    let stock_at_backup = chain.node_stock(chain.store).await;
    chain.sell().await;
    let last = chain.sell().await;
    chain.wait_central_sales(5).await;
    // After the backup too: a second store, and 3 units shipped to it from the first and received there.
    assert!(
        posctl(&["store", "add", "Lahore", "LHR002", "--dir", &dir])
            .status
            .success()
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(cluster.dir.join("cluster.json")).unwrap())
            .unwrap();
    let second = &doc["nodes"][0]["stores"][1];
    let (second_store, second_token) = (
        i32::try_from(second["id"].as_i64().unwrap()).unwrap(),
        second["cashier_token"].as_str().unwrap().to_owned(),
    );
    let (status, issued) = chain
        .post(
            &chain.central_url,
            &format!("/stores/{}/cashier-tokens", chain.store),
            &chain.admin,
            json!({"cashier": "Manager", "role": "manager"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let manager = issued["token"].as_str().unwrap().to_owned();
    let shipment = json!({"idempotency_key": uuid::Uuid::new_v4(), "to_store_id": second_store,
                          "items": [{"product_id": chain.product, "quantity": 3}]});
    let started = Instant::now();
    let shipped = loop {
        let (status, shipped) = chain
            .post(&chain.node_url, "/transfers", &manager, shipment.clone())
            .await;
        if status == 201 {
            break shipped;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the manager's credential never worked: {shipped}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let receive = format!(
        "/transfers/{}/receive",
        shipped["transfer_id"].as_str().unwrap()
    );
    let (status, received) = chain
        .post(
            &chain.node_url,
            &receive,
            &second_token,
            json!({"idempotency_key": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(status, 200, "{received}");
    assert_eq!(chain.node_stock(second_store).await, 3);
    let at_central = format!(
        "{}/transfers/{}",
        chain.central_url,
        shipped["transfer_id"].as_str().unwrap()
    );
    let started = Instant::now();
    let central_status = || async {
        let response = chain
            .http
            .get(&at_central)
            .bearer_auth(&chain.admin)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap_or_default()["status"].clone()
    };
    while central_status().await != "received" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "central never heard of the receipt"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let node_restore_took = down_and_restore(&dir, &node_backup, "Lahore");
    let node_up_took = timed(&up);
    // The resync brings the transfer back from central, and the node redoes its stock moves: the
    // shipment off the first store (a correction it keeps), what arrived onto the second.
    let started = Instant::now();
    while (
        chain.node_stock(chain.store).await,
        chain.node_stock(second_store).await,
    ) != (stock_at_backup - 3, 3)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the transfer's stock moves were not redone: {} and {}, wanted {} and 3",
            chain.node_stock(chain.store).await,
            chain.node_stock(second_store).await,
            stock_at_backup - 3
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    let next = chain.sell().await;
    assert_eq!(next, last + 1, "the next number follows central's last");
    chain.wait_central_sales(6).await;
    eprintln!(
        "node: restore {node_restore_took:?}, up with resync {node_up_took:?}, next sale no. {next} at \
         central after {:?} (recovery point: the backup's start; the 2 sales after it stay at central, \
         their details are gone from the node)",
        started.elapsed()
    );
    assert_eq!(chain.outbox_dead().await, 0, "no sale was refused");
    assert!(
        !cluster.dir.join("reconcile.json").exists(),
        "nothing left to reconcile"
    );

    assert!(posctl(&["down", "--dir", &dir, "--purge"]).status.success());
    cluster.down = true;
}
