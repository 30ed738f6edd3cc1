#!/usr/bin/env bash
# Monitoring with real clients: Berth scrapes itself and static targets from a
# Prometheus configuration file (a tiny exporter, and a broken one that must
# show up=0 with its parse error while the other target is unaffected);
# Debian's promtool queries Berth (instant, range, series, labels); a real
# Prometheus server remote-writes into Berth and both give the same answers
# for the same samples; bad PromQL, bad parameters and malformed remote-write
# bodies get Prometheus's error JSON; a remote write acknowledged just before
# kill -9 is there after the restart.
source "$(dirname "$0")/lib.sh" "$@"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tests/e2e/monitor"

command -v promtool >/dev/null || { fail "promtool is installed (Debian package prometheus)"; finish; }

log "exporters"
bg python3 "$HERE/exporter.py" "$E2E_TMP/app.port"
bg python3 "$HERE/exporter.py" "$E2E_TMP/broken.port" --broken
check_wait "the exporters listen" 10 test -s "$E2E_TMP/app.port" -a -s "$E2E_TMP/broken.port"
APP_PORT=$(cat "$E2E_TMP/app.port")
BROKEN_PORT=$(cat "$E2E_TMP/broken.port")

log "rules, and where alerts go"
SMTP_PORT=$(_free_port)
bg /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$E2E_TMP/mail"
bg python3 "$HERE/webhook_receiver.py" "$E2E_TMP/hook.port" "$E2E_TMP/hook.jsonl"
check_wait "the webhook receiver listens" 10 test -s "$E2E_TMP/hook.port"
smtp_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 1)"; }
check_wait "the SMTP server listens" 20 smtp_up
cat >"$E2E_TMP/rules.yml" <<'EOF2'
groups:
  - name: app
    interval: 1s
    rules:
      - record: job:app_requests:rate5s
        expr: sum by (job) (rate(app_requests_total[5s]))
      - alert: TargetDown
        expr: up{job="broken"} == 0
        for: 2s
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down"
          value: "{{ $value | humanize }}"
EOF2
expect_ok "promtool check rules accepts the rule file" promtool check rules "$E2E_TMP/rules.yml"
cat >"$E2E_TMP/alertmanager.yml" <<EOF2
global: {smtp_smarthost: "127.0.0.1:$SMTP_PORT", smtp_from: berth@example.test, smtp_require_tls: false}
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: team
    email_configs: [{to: oncall@example.test}]
    webhook_configs: [{url: "http://127.0.0.1:$(cat "$E2E_TMP/hook.port")/hook"}]
EOF2

cat >"$E2E_TMP/berth-prometheus.yml" <<EOF2
global: {scrape_interval: 1s}
rule_files: [rules.yml]
scrape_configs:
  - job_name: app
    static_configs: [{targets: ["127.0.0.1:$APP_PORT"], labels: {env: e2e}}]
    metric_relabel_configs:
      - {source_labels: [__name__], regex: "app_temperature_.*", action: drop}
  - job_name: broken
    static_configs: [{targets: ["127.0.0.1:$BROKEN_PORT"]}]
EOF2
SERVER_ARGS=(--no-agent --monitor-config "$E2E_TMP/berth-prometheus.yml" --monitor-scrape-interval 1
  --alertmanager-config "$E2E_TMP/alertmanager.yml" --monitor-out-of-order-seconds 300)
mkdir -p "$DATA/pki"
echo "metrics-token metrics" >"$DATA/pki/tokens"
chmod 600 "$DATA/pki/tokens"
start_server

# q <promql> [extra curl args]: an instant query's JSON.
q() { local e=$1; shift; kcurl /api/v1/query --data-urlencode "query=$e" "$@"; }
# qv <promql>: the value of the first sample (vector) or the scalar.
qv() { q "$1" | jq -r 'if .data.resultType == "scalar" then .data.result[1] else (.data.result[0].value[1] // "none") end'; }
qv_is() { [[ $(qv "$1") == "$2" ]]; }
qv_some() { [[ $(qv "$1") != none ]]; }

log "scraping"
check_wait "the app target is scraped (up == 1)" 20 qv_is 'up{job="app"}' 1
check_wait "Berth scrapes itself" 20 qv_is 'up{job="berth"}' 1
assert_eq "target labels are attached" "e2e" "$(q 'app_requests_total{path="/"}' | jq -r '.data.result[0].metric.env')"
assert_eq "metric_relabel_configs dropped the gauge" "none" "$(qv 'app_temperature_celsius')"
check_wait "the broken target is down" 20 qv_is 'up{job="broken"}' 0
T=$(kcurl /api/v1/targets)
assert_eq "two configured targets and Berth itself" "3" "$(jq '.data.activeTargets | length' <<<"$T")"
assert_eq "the broken target's health" "down" "$(jq -r '.data.activeTargets[] | select(.labels.job=="broken") | .health' <<<"$T")"
assert_match "its parse error names the line" "$(jq -r '.data.activeTargets[] | select(.labels.job=="broken") | .lastError' <<<"$T")" 'line 1'
assert_eq "the app target is unaffected" "up" "$(jq -r '.data.activeTargets[] | select(.labels.job=="app") | .health' <<<"$T")"
assert_eq "metadata from the scrape" "counter" "$(kcurl '/api/v1/metadata?metric=app_requests_total' | jq -r '.data.app_requests_total[0].type')"
check_wait "rate() over scraped counters is positive" 20 qv_some 'sum(rate(app_requests_total{job="app"}[5s])) > 0'
assert_match "histogram_quantile over scraped buckets" "$(qv 'histogram_quantile(0.5, app_latency_seconds_bucket)')" '^0\.[0-9]+$'
assert_match "Berth's own metrics are queryable" "$(qv 'prometheus_tsdb_head_series{job="berth"} > 0')" '^[0-9.e+]+$'

log "recording and alerting rules"
check_wait "the recording rule writes its series" 20 qv_some 'job:app_requests:rate5s{job="app"} > 0'
R=$(kcurl /api/v1/rules)
assert_eq "/api/v1/rules lists the group" "app" "$(jq -r '.data.groups[0].name' <<<"$R")"
assert_eq "  with both rules" "recording alerting" "$(jq -r '[.data.groups[0].rules[].type] | join(" ")' <<<"$R")"
assert_eq "  type=alert keeps the alerting rule" "TargetDown" \
  "$(kcurl '/api/v1/rules?type=alert' | jq -r '[.data.groups[].rules[].name] | join(" ")')"
assert_eq "  rule_name[] picks by name" "job:app_requests:rate5s" \
  "$(kcurl '/api/v1/rules' -G --data-urlencode 'rule_name[]=job:app_requests:rate5s' | jq -r '[.data.groups[].rules[].name] | join(" ")')"
assert_eq "  an unknown rule_group[] leaves no group" 0 \
  "$(kcurl '/api/v1/rules?rule_group%5B%5D=nope' | jq '.data.groups | length')"
assert_eq "  exclude_alerts drops the alerts list" null \
  "$(kcurl '/api/v1/rules?type=alert&exclude_alerts=true' | jq -c '.data.groups[0].rules[0].alerts')"
assert_eq "  a bad type is 400" 400 "$(http_code '/api/v1/rules?type=bogus')"
assert_eq "  in Prometheus's error JSON" "bad_data not supported value \"bogus\"" "$(body | jq -r '"\(.errorType) \(.error)"')"
check_wait "the alert fires after its 'for'" 20 qv_is 'ALERTS{alertname="TargetDown",alertstate="firing"}' 1
A=$(kcurl /api/v1/alerts)
assert_match "its annotation is templated" "$(jq -r '.data.alerts[0].annotations.summary' <<<"$A")" \
  '^127\.0\.0\.1:[0-9]+ of broken is down$'
hook_has() { grep -q '"alertname": "TargetDown"' "$E2E_TMP/hook.jsonl" 2>/dev/null; }
check_wait "the webhook receiver gets the alert" 20 hook_has
H=$(head -1 "$E2E_TMP/hook.jsonl")
assert_eq "  in Alertmanager's webhook format" "4 firing team" "$(jq -r '"\(.version) \(.status) \(.receiver)"' <<<"$H")"
assert_eq "  grouped by alertname" '{"alertname":"TargetDown"}' "$(jq -c .groupLabels <<<"$H")"
mail_has() { grep -rqs "TargetDown" "$E2E_TMP/mail/new"; }
check_wait "an email reaches the SMTP server" 20 mail_has
assert_match "  addressed to the receiver" "$(grep -rh '^To:' "$E2E_TMP/mail/new" | head -1)" 'oncall@example.test'
AM=$(kcurl /alertmanager/api/v2/alerts)
assert_eq "Alertmanager's API lists the alert" "active" "$(jq -r '.[] | select(.labels.alertname=="TargetDown") | .status.state' <<<"$AM")"
NOW_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ); END_ISO=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
SIL=$(kcurl /alertmanager/api/v2/silences -X POST -H 'Content-Type: application/json' -d "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"TargetDown\",\"isRegex\":false,\"isEqual\":true}],\"startsAt\":\"$NOW_ISO\",\"endsAt\":\"$END_ISO\",\"createdBy\":\"e2e\",\"comment\":\"maintenance\"}")
assert_match "a silence is created" "$(jq -r .silenceID <<<"$SIL")" '^[0-9a-f-]{36}$'
suppressed() { [[ $(kcurl /alertmanager/api/v2/alerts | jq -r '.[] | select(.labels.alertname=="TargetDown") | .status.state') == suppressed ]]; }
check_wait "the silence suppresses the alert" 10 suppressed

log "promtool against Berth"
# promtool 2.42 has no client options: it trusts SSL_CERT_FILE (Go's way) and
# sends the URL's user:password as Basic credentials, the API token as password.
URL="https://metrics:metrics-token@127.0.0.1:$PORT"
pt() { SSL_CERT_FILE="$DATA/pki/ca.crt" promtool query "$@"; }
expect_ok "promtool query instant" pt instant "$URL" 'up{job="app"}'
assert_match "  prints the sample" "$OUT" 'up\{env="e2e", instance="127.0.0.1:[0-9]+", job="app"\} => 1'
NOW=$(date +%s)
expect_ok "promtool query range" pt range --start=$((NOW - 5)) --end="$NOW" --step=1s "$URL" 'up{job="app"}'
assert_match "  prints a matrix" "$OUT" '1 @\['
expect_ok "promtool query series" pt series --match='app_requests_total' "$URL"
assert_match "  lists both series" "$(grep -c app_requests_total <<<"$OUT")" '^2$'
expect_ok "promtool query labels" pt labels "$URL" job
assert_contains "  lists the jobs" "$OUT" 'broken'
# The same API under /prometheus, for clients configured with a prefix.
expect_ok "promtool with the /prometheus prefix" pt instant "$URL/prometheus" 'vector(7)'
assert_match "  evaluates" "$OUT" '=> 7'
expect_fail "no anonymous queries" pt instant "https://127.0.0.1:$PORT" 'up'
expect_fail "a wrong token is refused" pt instant "https://metrics:nope@127.0.0.1:$PORT" 'up'
expect_fail "the server certificate is checked" promtool query instant "$URL" 'up'

log "errors in Prometheus's form"
code=$(http_code /api/v1/query --data-urlencode 'query=sum(rate(x[5m])')
assert_eq "bad PromQL is 400" 400 "$code"
assert_eq "  errorType bad_data" "bad_data" "$(body | jq -r .errorType)"
assert_match "  with the parser's position" "$(body | jq -r .error)" '^invalid parameter "query": 1:[0-9]+: parse error'
code=$(http_code '/api/v1/query_range?query=up&start=10&end=0&step=1')
assert_eq "end before start is 400" 400 "$code"
code=$(http_code '/api/v1/query_range?query=up&start=0&end=100000000&step=1')
assert_eq "too many points is 400" 400 "$code"
assert_contains "  says why" "$(body | jq -r .error)" '11,000 points'
code=$(http_code '/api/v1/query?query=up&time=yesterday')
assert_eq "a bad time is 400" 400 "$code"
code=$(http_code /api/v1/query --data-urlencode 'query=x{a="1"} + on(a) group_left y{a="1"} + z')
assert_match "an expression that fails at evaluation or parse" "$code" '^(200|400|422)$'
assert_eq "format_query" 'sum by (job) (rate(x[5m]))' \
  "$(kcurl /api/v1/format_query --data-urlencode 'query=sum(rate(x[5m]))by(job)' | jq -r .data)"

log "remote write: a real Prometheus sends to Berth"
PROM_PORT=$(_free_port)
cat >"$E2E_TMP/prom.yml" <<EOF2
global: {scrape_interval: 1s, external_labels: {source: prom}}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ["127.0.0.1:$APP_PORT"]}]
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params: {"match[]": ['{job="app",env="e2e"}']}
    metric_relabel_configs: [{target_label: federated, replacement: "yes"}]
    scheme: https
    tls_config: {ca_file: $DATA/pki/ca.crt, cert_file: $DATA/pki/admin.crt, key_file: $DATA/pki/admin.key}
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
remote_write:
  - url: https://127.0.0.1:$PORT/api/v1/write
    write_relabel_configs: [{source_labels: [federated], regex: "yes", action: drop}]
    tls_config: {ca_file: $DATA/pki/ca.crt, cert_file: $DATA/pki/admin.crt, key_file: $DATA/pki/admin.key}
    queue_config: {batch_send_deadline: 500ms}
EOF2
bg prometheus --config.file="$E2E_TMP/prom.yml" --storage.tsdb.path="$E2E_TMP/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
PROM="http://127.0.0.1:$PROM_PORT"
check_wait "Prometheus scrapes the app" 30 bash -c \
  "curl -s '$PROM/api/v1/query?query=up' | jq -e '.data.result[0].value[1] == \"1\"'"
check_wait "its samples arrive in Berth" 30 qv_some 'count_over_time(app_requests_total{source="prom",path="/"}[1m]) >= 3'
# Compare at a time both have: Prometheus's newest sample when we ask.
TS=$(curl -s "$PROM/api/v1/query" --data-urlencode 'query=timestamp(app_requests_total{path="/",federated=""})' |
  jq -r '.data.result[0].value[1]')
berth_has_ts() { qv_some "timestamp(app_requests_total{source=\"prom\",path=\"/\"}) >= $TS"; }
check_wait "Berth has Prometheus's sample of $TS" 20 berth_has_ts
# Pairs: the query on Prometheus, the same on Berth's copy of its samples.
PAIRS=(
  'app_requests_total{federated=""}' 'app_requests_total{source="prom"}'
  'sum by (path) (rate(app_requests_total{federated=""}[10s]))' 'sum by (path) (rate(app_requests_total{source="prom"}[10s]))'
  'histogram_quantile(0.9, rate(app_latency_seconds_bucket{federated=""}[10s]))'
  'histogram_quantile(0.9, rate(app_latency_seconds_bucket{source="prom"}[10s]))'
  'max_over_time(app_requests_total{federated=""}[30s]) - min_over_time(app_requests_total{federated=""}[30s] offset 2s)'
  'max_over_time(app_requests_total{source="prom"}[30s]) - min_over_time(app_requests_total{source="prom"}[30s] offset 2s)'
)
normalise='[.data.result[] | {m: (.metric | del(.source)), v: .value[1]}] | sort_by(.m | tostring)'
for ((i = 0; i < ${#PAIRS[@]}; i += 2)); do
  want=$(curl -s "$PROM/api/v1/query" --data-urlencode "query=${PAIRS[i]}" --data-urlencode "time=$TS" | jq -c "$normalise")
  got=$(q "${PAIRS[i+1]}" --data-urlencode "time=$TS" | jq -c "$normalise")
  assert_ne "Prometheus answers ${PAIRS[i]}" "[]" "$want"
  assert_eq "Berth gives the same answer" "$want" "$got"
done

federated() { curl -s "$PROM/api/v1/query" --data-urlencode 'query=app_requests_total{env="e2e",job="app",federated="yes"}' | jq -e '.data.result | length == 2'; }
check_wait "Prometheus federates Berth's series (/federate, honor_labels)" 30 federated ||
  curl -s "$PROM/api/v1/targets" | jq -c '.data.activeTargets[] | select(.scrapePool=="federate") | {health, lastError}' >&2
F=$(kcurl '/federate' -G --data-urlencode 'match[]={job="app",__name__="up",source=""}')
assert_match "/federate answers in the text format with timestamps" "$F" '^# TYPE up untyped
up\{env="e2e", instance="127\.0\.0\.1:[0-9]+", job="app"\} 1 [0-9]{13}$'

# Prometheus goes first, or it would keep retrying the Berth killed below.
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null

log "remote write: bad bodies"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' --data-binary 'not snappy')
assert_eq "garbage is 400" 400 "$code"
python3 "$HERE/remote_write_body.py" m '{}' 1000 1000 1 3 --garbage >"$E2E_TMP/garbage.bin"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' --data-binary @"$E2E_TMP/garbage.bin")
assert_eq "a truncated protobuf is 400" 400 "$code"

log "remote write: native histograms"
NOWMS=$(( $(date +%s) * 1000 ))
HT=$(( NOWMS / 1000 - 1 ))
# Five integer histograms 10 s apart, the newest a second before HT: k, 2k, k
# observations in (0.5,1], (1,2], (2,4] with k = 1..5.
python3 "$HERE/remote_write_body.py" rpc_seconds '{"svc":"api"}' $((HT * 1000 - 41000)) 10000 1 5 \
  --histogram >"$E2E_TMP/nh.bin"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' --data-binary @"$E2E_TMP/nh.bin")
assert_eq "a write of native histograms is acknowledged (204)" 204 "$code"
assert_eq "histogram_count of the newest" 20 "$(qv "histogram_count(rpc_seconds @ $HT)")"
assert_eq "histogram_sum of the newest" 30 "$(qv "histogram_sum(rpc_seconds @ $HT)")"
assert_match "the median lies in (1,2]" "$(qv "histogram_quantile(0.5, rpc_seconds @ $HT)")" '^1(\.[0-9]+)?$'
assert_eq "histogram_fraction up to 1 is a quarter" 0.25 "$(qv "histogram_fraction(0, 1, rpc_seconds @ $HT)")"
assert_match "rate over native histograms is a histogram with a positive count" \
  "$(qv "histogram_count(rate(rpc_seconds[1m] @ $HT))")" '^0\.[0-9]+$'
H=$(kcurl /api/v1/query --data-urlencode "query=rpc_seconds @ $HT")
assert_eq "the API answers with Prometheus's histogram JSON" '"20" 3' \
  "$(jq -r '.data.result[0].histogram[1] | "\"\(.count)\" \(.buckets | length)"' <<<"$H")"

log "kill -9 right after an acknowledged remote write"
python3 "$HERE/remote_write_body.py" durable_metric '{"k":"v"}' $((NOWMS - 60000)) 1000 100 50 >"$E2E_TMP/rw.bin"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' \
  -H 'X-Prometheus-Remote-Write-Version: 0.1.0' --data-binary @"$E2E_TMP/rw.bin")
assert_eq "the write is acknowledged (204)" 204 "$code"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
start_server
assert_eq "all 50 samples are back" 50 "$(qv "count_over_time(durable_metric{k=\"v\"}[5m] @ $(( NOWMS / 1000 )))")"
assert_eq "with their values" 149 "$(qv "max_over_time(durable_metric[5m] @ $(( NOWMS / 1000 )))")"
assert_eq "the native histograms are back too" 20 "$(qv "histogram_count(rpc_seconds @ $HT)")"
# The 50 samples sit 60 s apart at 1 s steps; one between two of them is
# out of order, accepted within the 300 s window.
python3 "$HERE/remote_write_body.py" durable_metric '{"k":"v"}' $((NOWMS - 60000 + 500)) 1000 7 1 >"$E2E_TMP/ooo.bin"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' --data-binary @"$E2E_TMP/ooo.bin")
assert_eq "an out-of-order sample within the window is accepted" 204 "$code"
assert_eq "  and counted" 51 "$(qv "count_over_time(durable_metric{k=\"v\"}[5m] @ $(( NOWMS / 1000 )))")"
python3 "$HERE/remote_write_body.py" durable_metric '{"k":"v"}' $((NOWMS - 3600000)) 1000 7 1 >"$E2E_TMP/old.bin"
code=$(http_code /api/v1/write -X POST -H 'Content-Type: application/x-protobuf' --data-binary @"$E2E_TMP/old.bin")
assert_eq "one older than the window is refused (400)" 400 "$code"
assert_contains "  as out of order" "$(body)" "out of order"
assert_match "scraped history survived too" "$(qv "count_over_time(up{job=\"app\"}[10m])")" '^[0-9]+$'

finish
