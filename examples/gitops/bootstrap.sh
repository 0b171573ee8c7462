#!/usr/bin/env bash
# Once, when you start the repository: make the CAs and the custom certificate with `rdsssl-reconcile
# certs` (the openssl steps of "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL
# instance", no openssl needed). Public certificates go to certs/ (commit them); private keys go to a
# directory OUTSIDE the repository (mode 0700, keys 0600): store them as secrets, then delete them.
#
#   ./bootstrap.sh [SECRETS_DIR]        # default: ~/.rdsssl-gitops-secrets
#
# Existing files are never overwritten (run it again after deleting what you want to replace).
set -euo pipefail
cd "$(dirname "$0")"
secrets="${1:-$HOME/.rdsssl-gitops-secrets}"
case "$(cd "$(dirname "$secrets")" 2>/dev/null && pwd -P)/" in
  "$(pwd -P)"/*) echo "bootstrap.sh: $secrets is inside the repository; keys must be kept outside it" >&2; exit 1 ;;
esac
umask 077
mkdir -p certs "$secrets"

# The company's server CA: signs the analytics certificate below and, through the tool, billing's.
rdsssl-reconcile certs ca create --cn "shop server CA" --out "$secrets/server-ca"
# One certificate whose SANs cover both endpoints of pgm-shop-analytics.
rdsssl-reconcile certs issue --ca-cert "$secrets/server-ca/server-ca.crt" --ca-key "$secrets/server-ca/server-ca.key" \
  --endpoint pgm-shop-analytics.pg.rds.aliyuncs.com \
  --endpoint pgm-shop-analyticso.pg.rds.aliyuncs.com \
  --out "$secrets/analytics"
rdsssl-reconcile certs check --cert "$secrets/analytics/server.crt" --key "$secrets/analytics/server.key" \
  --ca "$secrets/server-ca/server-ca.crt" \
  --endpoint pgm-shop-analytics.pg.rds.aliyuncs.com --endpoint pgm-shop-analyticso.pg.rds.aliyuncs.com
# The client CA: the instance accepts client certificates it signed (its key signs them, not this tool).
rdsssl-reconcile certs ca create --cn "shop client CA" --out "$secrets/client-ca"

publish() {  # a public certificate into certs/, never over an existing file
  if [ -e "$2" ]; then echo "bootstrap.sh: $2 exists; not replaced" >&2; exit 1; fi
  install -m 0644 "$1" "$2"
}
publish "$secrets/server-ca/server-ca.crt" certs/server-ca.crt
publish "$secrets/analytics/server.crt" certs/analytics.crt
publish "$secrets/client-ca/server-ca.crt" certs/client-ca.crt

cat <<DONE
Public certificates written to certs/ (commit them). Store these as GitHub Actions secrets:
  ANALYTICS_SERVER_KEY  <- $secrets/analytics/server.key      (repository secret: plan and apply)
  SERVER_CA_KEY         <- $secrets/server-ca/server-ca.key   (secret of the 'production' environment only)
Keep $secrets/client-ca/server-ca.key wherever you sign client certificates. Then delete $secrets.
DONE
