#!/bin/sh
# Builds page.h from web/: the status page with its style and script put
# inline, gzip-compressed (tend sends it as it is, Content-Encoding: gzip),
# as one C string, and the SHA-256 of the style and of the script for the
# page's Content-Security-Policy. Only the base system's tools: sed, od,
# awk, gzip, sha256sum.
#     tools/embed.sh web > page.h
set -eu
dir=$1

# base64 of the bytes of a hex string, in awk: CSP wants the digest so
b64() {
	awk -v hex="$1" 'BEGIN {
		a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		for (i = 0; i < 16; i++) v[substr("0123456789abcdef", i + 1, 1)] = i
		n = length(hex) / 2
		for (i = 0; i < n; i++) b[i] = v[substr(hex, 2 * i + 1, 1)] * 16 + v[substr(hex, 2 * i + 2, 1)]
		out = ""
		for (i = 0; i < n; i += 3) {
			x = b[i] * 65536 + (i + 1 < n ? b[i + 1] * 256 : 0) + (i + 2 < n ? b[i + 2] : 0)
			out = out substr(a, int(x / 262144) % 64 + 1, 1) substr(a, int(x / 4096) % 64 + 1, 1)
			out = out (i + 1 < n ? substr(a, int(x / 64) % 64 + 1, 1) : "=")
			out = out (i + 2 < n ? substr(a, x % 64 + 1, 1) : "=")
		}
		print out
	}'
}

hash() {
	b64 "$(sha256sum "$1" | cut -d' ' -f1)"
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# the exact bytes of each file go between their tags: the hashes match
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'<!--style-->') printf '<style>'; cat "$dir/page.css"; printf '</style>\n' ;;
	'<!--script-->') printf '<script>'; cat "$dir/page.js"; printf '</script>\n' ;;
	*) printf '%s\n' "$line" ;;
	esac
done < "$dir/page.html" > "$tmp"

echo "/* page.h: made by tools/embed.sh from $dir/; do not edit. */"
printf '#define PAGE_STYLE_HASH "sha256-%s"\n' "$(hash "$dir/page.css")"
printf '#define PAGE_SCRIPT_HASH "sha256-%s"\n' "$(hash "$dir/page.js")"
echo 'static const char page_gz[] ='
gzip -9n < "$tmp" | od -An -v -tx1 | sed 's/ *$//; s/ /\\x/g; s/^/"/; s/$/"/'
echo ';'
