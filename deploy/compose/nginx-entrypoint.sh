#!/bin/sh
# compose.yaml's nginx: install deploy/nginx/*.conf (mounted at /recipe) as deploy/nginx/README.md
# says, with the compose service names of warden and the app in place of 127.0.0.1: the only change.
set -eu
mkdir -p /etc/nginx/warden
for f in /recipe/*.conf; do
  sed -e 's/127\.0\.0\.1:8080/warden:8080/' -e 's/127\.0\.0\.1:3000/app:3000/' "$f" > "/etc/nginx/warden/$(basename "$f")"
done
# The image's nginx.conf includes conf.d/*.conf inside http { }; the recipe replaces its default server.
echo 'include warden/warden.conf;' > /etc/nginx/conf.d/default.conf
exec nginx -g 'daemon off;'
