#!/usr/bin/env bash
# The openssl steps of "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance",
# as rdsssl-reconcile commands: a CA, then a server certificate whose SANs cover both endpoints of pgm-demo-analytics. Keys are written 0600 and never overwritten.
set -euo pipefail
cd "$(dirname "$0")"
rdsssl-reconcile certs ca create --cn "analytics demo CA" --out certs
rdsssl-reconcile certs issue --ca-cert certs/server-ca.crt --ca-key certs/server-ca.key \
  --endpoint pgm-demo-analytics.pg.rds.aliyuncs.com \
  --endpoint pgm-demo-analyticso.pg.rds.aliyuncs.com \
  --out certs
rdsssl-reconcile certs check --cert certs/server.crt --key certs/server.key --ca certs/server-ca.crt \
  --endpoint pgm-demo-analytics.pg.rds.aliyuncs.com --endpoint pgm-demo-analyticso.pg.rds.aliyuncs.com
