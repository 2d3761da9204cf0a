#!/usr/bin/perl
# docs/openapi.json is the contract the integration suite checks every answer against, and
# docs/api.md is what people read: both must stay usable and say the same. Needs no stack
# (it runs in `make check` too): python3 with python3-jsonschema only.

use v5.36;
use Test::More;
use File::Spec;

my $dir = File::Spec->rel2abs(__FILE__) =~ s{/[^/]*\z}{}r;
my $checker = "$dir/openapi-check.py";
# A tree unpacked without the executable bit still runs it.
my @run = -x $checker ? ($checker) : ('python3', $checker);

# Runs the checker with @args; returns its exit status and what it printed (both streams).
sub check(@args) {
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        exec @run, @args or die "exec @run: $!\n";
    }
    my $text = do { local $/; <$out> } // '';
    close $out;
    return ($? >> 8 || ($? & 127 ? 128 + ($? & 127) : 0), $text);
}

# lint: every $ref resolves offline, every schema is valid JSON Schema 2020-12, the examples
# match their schemas; an answer could not be checked against a broken document.
my ($rc, $text) = check('lint');
is($rc, 0, 'docs/openapi.json: t/openapi-check.py lint') or diag($text);

# docs: the operations, the errors (status, code and message) and the request headers of the
# document are those of docs/api.md, and the reverse.
($rc, $text) = check('docs');
is($rc, 0, 'docs/api.md and docs/openapi.json agree: t/openapi-check.py docs') or diag($text);

done_testing();
