//! WHEP viewers for the meeting bench: lobby screens or a TV station pulling the main
//! picture and the audio the halls hear (`POST /whep/{token}`), counted for the cost of
//! one viewer on the node.

use sfu::testclient::TestClient;
use std::time::Duration;

/// Viewers connected over WHEP, with their sessions' `Location`s.
pub struct Viewers {
    clients: Vec<TestClient>,
    sessions: Vec<String>,
    base: String,
    http: reqwest::Client,
}

/// Connects `n` viewers to `whep_url` (`http://host:port/whep/<token>`), one at a time.
pub async fn open(whep_url: &str, n: usize) -> Result<Viewers, String> {
    let at = whep_url.find("/whep/").ok_or("not a WHEP URL")?;
    let mut viewers = Viewers {
        clients: Vec::with_capacity(n),
        sessions: Vec::with_capacity(n),
        base: whep_url[..at].to_owned(),
        http: reqwest::Client::new(),
    };
    for i in 0..n {
        let client = TestClient::subscriber(1, 2)
            .await
            .map_err(|e| format!("viewer {i}: {e}"))?;
        let offer = client.offer().await.map_err(|e| e.to_string())?;
        let res = viewers
            .http
            .post(whep_url)
            .header("content-type", "application/sdp")
            .body(offer)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status().as_u16() != 201 {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            return Err(format!("viewer {i}: WHEP answered {status}: {body}"));
        }
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("WHEP answer without a Location")?
            .to_owned();
        let answer = res.text().await.map_err(|e| e.to_string())?;
        client.accept(answer).await.map_err(|e| e.to_string())?;
        if !client.wait_connected(Duration::from_secs(15)).await {
            return Err(format!("viewer {i}: media did not connect"));
        }
        viewers.clients.push(client);
        viewers.sessions.push(location);
    }
    Ok(viewers)
}

impl Viewers {
    /// Packets received so far by every viewer, and by the one that received least.
    pub fn packets(&self) -> (usize, usize) {
        let each: Vec<usize> = self
            .clients
            .iter()
            .map(|c| c.received().values().map(Vec::len).sum())
            .collect();
        (each.iter().sum(), each.iter().copied().min().unwrap_or(0))
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Ends every session (`DELETE` on its `Location`) and closes the clients.
    pub async fn close(self) {
        for (client, session) in self.clients.iter().zip(&self.sessions) {
            let url = format!("{}{session}", self.base);
            if let Err(e) = self.http.delete(url).send().await {
                println!("viewer session {session} not ended: {e}");
            }
            client.close().await;
        }
    }
}
