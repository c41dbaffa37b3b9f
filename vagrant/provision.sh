#!/bin/bash
# Provision one VM of the Vagrant lab (run by the Vagrantfile as root):
#   provision.sh control-plane|agent CONTROL_PLANE_IP OWN_IP
# Installs minikube_py with the README's command (make install) from the synced folder, installs the role's
# systemd unit and /etc/default/minikube-py (addresses and the shared token), and (re)starts the unit.
# With DESTDIR set it only writes the files under DESTDIR (no apt, no make, no systemctl): the tests use that.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 control-plane|agent CONTROL_PLANE_IP OWN_IP" >&2
  exit 2
fi
role=$1 cp_ip=$2 own_ip=$3
case $role in
  control-plane | agent) ;;
  *) echo "$0: unknown role '$role' (control-plane or agent)" >&2; exit 2 ;;
esac
repo=${MKPY_REPO:-/opt/minikube-py}
destdir=${DESTDIR:-}
token_file=$repo/vagrant/.mkpy-token

token=$(tr -d '[:space:]' < "$token_file" 2>/dev/null || true)
if ! [[ $token =~ ^[0-9a-f]{32,}$ ]]; then
  echo "$0: no shared token in $token_file (the Vagrantfile writes it on the host before 'vagrant up')" >&2
  exit 1
fi

if [ -z "$destdir" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends make python3-venv
  make -C "$repo" install
fi

unit=minikube-py-$role.service
install -d "$destdir/etc/systemd/system" "$destdir/etc/default"
install -m 0644 "$repo/systemd/$unit" "$destdir/etc/systemd/system/$unit"
# The token is a secret: the file is readable by root only.
(
  umask 077
  cat > "$destdir/etc/default/minikube-py.new" <<CONF
# Written by vagrant/provision.sh ($role); the variables are described in systemd/minikube-py.default.
MKPY_LISTEN=$cp_ip
MKPY_SERVER=http://$cp_ip:6443
MKPY_ADDRESS=$own_ip
MKPY_TOKEN=$token
CONF
)
mv "$destdir/etc/default/minikube-py.new" "$destdir/etc/default/minikube-py"
if [ "$role" = control-plane ]; then
  # The control plane keeps its bearer token in <data-dir>/token (made at first start when missing): seed it
  # with the lab's shared token so that the control plane and the agents use the same one.
  install -d -m 0700 "$destdir/var/lib/minikube-py/control-plane"
  (umask 077 && printf '%s\n' "$token" > "$destdir/var/lib/minikube-py/control-plane/token")
fi

if [ -z "$destdir" ]; then
  systemctl daemon-reload
  systemctl enable "$unit"
  # restart, not start: a re-provision picks up new code and settings (the agent's pods keep running)
  systemctl restart "$unit"
  systemctl --no-pager status "$unit" || true
fi
