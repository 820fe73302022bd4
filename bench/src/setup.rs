//! The untimed setup before each workload: signing in, obtaining codes,
//! refresh tokens and access tokens, at bounded parallelism.

use super::*;

/// Runs `f(0..n)` on `par` tasks; results in index order; stops at the first error.
pub(crate) async fn parallel<T, F, Fut>(n: usize, par: usize, f: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..par.clamp(1, n.max(1)))
        .map(|_| {
            let (f, next, failed) = (f.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || failed.load(Ordering::Relaxed) {
                        return Ok(got);
                    }
                    match f(i).await {
                        Ok(v) => got.push((i, v)),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(v)) => all.extend(v),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(format!("setup task failed: {e}"));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

pub(crate) struct Ctx {
    pub(crate) args: Args,
    pub(crate) target: Arc<Target>,
    pub(crate) browsers: Vec<Arc<Browser>>,
    pub(crate) http: Client,
    pub(crate) signed_in: bool,
}

impl Ctx {
    pub(crate) async fn ensure_signed_in(&mut self) -> Result<()> {
        if self.signed_in {
            return Ok(());
        }
        let client = self
            .target
            .public_client_id
            .clone()
            .or_else(|| self.target.confidential.as_ref().map(|c| c.0.clone()))
            .ok_or("no public or confidential client to sign in with")?;
        if self.target.user_email.is_none() || self.target.user_password.is_none() {
            return Err("no --user-email/--user-password to sign in with".into());
        }
        // One browser after the other: sign-in hashes the password (Argon2id
        // on Keygate), and eight at once would inflate the server's memory
        // with work that is not part of any timed workload.
        let t0 = Instant::now();
        for b in &self.browsers {
            b.obtain_code(&client, "openid")
                .await
                .map_err(|e| format!("signing in: {e}"))?;
        }
        eprintln!(
            "  signed in {} sessions through {} ({:.2} s)",
            self.browsers.len(),
            self.target.authorization_endpoint,
            t0.elapsed().as_secs_f64()
        );
        self.signed_in = true;
        Ok(())
    }

    /// `n` codes for `client_id`, obtained by `--setup-parallelism`
    /// concurrent /authorize flows spread over the signed-in sessions (one
    /// cookie jar each). Keygate serves concurrent flows on one session;
    /// oidc-provider renews the session id at the end of every interaction,
    /// so against an external target each flow gets its own session.
    pub(crate) async fn obtain_codes(
        &self,
        client_id: &str,
        scope: &str,
        n: usize,
    ) -> Result<Vec<(String, String)>> {
        let next = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..self.args.setup_parallelism.clamp(1, n.max(1)))
            .map(|k| {
                let b = self.browsers[k % self.browsers.len()].clone();
                let (next, failed) = (next.clone(), failed.clone());
                let (id, scope) = (client_id.to_string(), scope.to_string());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n || failed.load(Ordering::Relaxed) {
                            return Ok(got);
                        }
                        match b.obtain_code(&id, &scope).await {
                            Ok(c) => got.push((i, c)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            match t.await {
                Ok(Ok(v)) => all.extend(v),
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(format!("setup task failed: {e}")),
            }
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, c)| c).collect())
    }

    /// Exchanges `codes` in parallel (untimed) and maps each token response.
    pub(crate) async fn exchange_all<T, F>(
        &self,
        codes: Vec<(String, String)>,
        auth: (String, Option<String>),
        map: F,
    ) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(flow::TokenResponse) -> Result<T> + Send + Sync + 'static,
    {
        let (http, target, codes, map) = (
            self.http.clone(),
            self.target.clone(),
            Arc::new(codes),
            Arc::new(map),
        );
        let auth = Arc::new(auth);
        parallel(codes.len(), self.args.setup_parallelism, move |i| {
            let (http, target, codes, map, auth) = (
                http.clone(),
                target.clone(),
                codes.clone(),
                map.clone(),
                auth.clone(),
            );
            async move {
                let (code, verifier) = &codes[i];
                let how = match &auth.1 {
                    Some(secret) => ClientAuth::Basic(&auth.0, secret),
                    None => ClientAuth::Public(&auth.0),
                };
                map(exchange_code(&http, &target, code, verifier, how).await?)
            }
        })
        .await
    }

    /// More W1 codes between the segments of a --duration run.
    pub(crate) async fn more_w1_codes(&self, n: usize) -> Result<Vec<(String, String)>> {
        let id = self
            .target
            .public_client_id
            .clone()
            .ok_or("no public client")?;
        eprintln!("  W1: obtaining {n} more authorization codes (untimed)");
        self.obtain_codes(&id, &self.args.scope, n).await
    }

    /// The server's current DPoP nonce (RFC 9449 8): a proof without one is
    /// answered `use_dpop_nonce` with the nonce in `DPoP-Nonce`.
    async fn dpop_nonce(&self, id: &str, secret: &str) -> Result<String> {
        let prover = crate::dpop::Prover::new(&self.target.token_endpoint)?;
        let r = Client::new()
            .post(&self.target.token_endpoint)
            .header("authorization", crate::flow::basic_auth(id, secret))
            .header("dpop", prover.proof())
            .header("content-type", crate::flow::FORM)
            .body("grant_type=refresh_token&refresh_token=none")
            .send()
            .await
            .map_err(|e| format!("DPoP nonce: {e}"))?;
        r.headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("no DPoP-Nonce in the answer ({})", r.status()))
    }

    pub(crate) async fn prepare(&mut self, w: Workload) -> Result<Plan> {
        let conc = self.args.concurrency;
        let stop = match self.args.duration {
            Some(d) => Stop::Duration(Duration::from_secs_f64(d)),
            None => Stop::Requests(self.args.requests.unwrap_or(5000)),
        };
        let want_id_token = has_scope(&self.args.scope, "openid");
        let mut plan = Plan {
            workload: w,
            stop,
            codes: Vec::new(),
            seeds: Vec::new(),
            want_id_token,
        };
        let public = || {
            self.target
                .public_client_id
                .clone()
                .ok_or("no public client (--public-client-id)")
        };
        match w {
            Workload::W1 => {
                let id = public()?;
                self.ensure_signed_in().await?;
                let n = match stop {
                    Stop::Requests(n) => n as usize,
                    // A first segment; more codes are prepared between
                    // segments (see the timed loop).
                    Stop::Duration(_) => self.args.w1_codes.unwrap_or(conc * 50),
                };
                eprintln!("  W1: obtaining {n} authorization codes through /authorize (untimed)");
                plan.codes = self.obtain_codes(&id, &self.args.scope, n).await?;
                plan.seeds = (0..conc).map(|_| Seed::None).collect();
            }
            Workload::W2 | Workload::W2Dpop => {
                let (id, secret) = self
                    .target
                    .confidential
                    .clone()
                    .ok_or("no confidential client (--confidential-client-id/secret)")?;
                self.ensure_signed_in().await?;
                eprintln!("  W2: obtaining {conc} refresh tokens (one chain per worker, untimed)");
                let codes = self.obtain_codes(&id, &self.args.scope, conc).await?;
                let scope = self.args.scope.clone();
                plan.seeds = self
                    .exchange_all(codes, (id.clone(), Some(secret.clone())), move |tr| {
                        tr.refresh_token
                            .filter(|r| !r.is_empty())
                            .map(Seed::Refresh)
                            .ok_or_else(|| {
                                format!("the code exchange gave no refresh_token (scope {scope})")
                            })
                    })
                    .await?;
                if w == Workload::W2Dpop {
                    // Each worker its own key; the server's nonce fetched
                    // once, untimed (each answer then carries the next).
                    let htu = self.target.token_endpoint.clone();
                    let nonce = self.dpop_nonce(&id, &secret).await?;
                    let mut seeds = Vec::with_capacity(plan.seeds.len());
                    for seed in plan.seeds.drain(..) {
                        let Seed::Refresh(rt) = seed else {
                            return Err("a W2 seed without its refresh token".into());
                        };
                        let mut prover = crate::dpop::Prover::new(&htu)?;
                        prover.nonce = Some(nonce.clone());
                        seeds.push(Seed::DpopRefresh(rt, Box::new(prover)));
                    }
                    plan.seeds = seeds;
                }
            }
            Workload::W3 => {
                self.target
                    .cc
                    .as_ref()
                    .ok_or("no client_credentials client (--cc-client-id/secret)")?;
                plan.seeds = (0..conc).map(|_| Seed::None).collect();
            }
            Workload::W4 => {
                let id = public()?;
                self.target
                    .userinfo_endpoint
                    .as_ref()
                    .ok_or("no userinfo_endpoint in discovery")?;
                self.ensure_signed_in().await?;
                eprintln!(
                    "  W4: obtaining {conc} access tokens (scope {}, untimed)",
                    self.args.userinfo_scope
                );
                let codes = self
                    .obtain_codes(&id, &self.args.userinfo_scope, conc)
                    .await?;
                plan.seeds = self
                    .exchange_all(codes, (id, None), |tr| {
                        let at = tr
                            .access_token
                            .filter(|a| !a.is_empty())
                            .ok_or("the code exchange gave no access_token")?;
                        HeaderValue::from_str(&format!("Bearer {at}"))
                            .map(Seed::Bearer)
                            .map_err(|e| e.to_string())
                    })
                    .await?;
            }
        }
        Ok(plan)
    }
}
