#!/usr/bin/perl
# The sample web service. Core Perl only (no CPAN), PostgreSQL through the psql client with
# the PG* environment variables (no password on any command line).
#
#   GET /            records a visit, answers JSON: version, visits so far, container
#   GET /version     the release's APP_VERSION (no database; cheap enough for load tests)
#   GET /healthz     200 when PostgreSQL answers, else 503
#   perl server.pl --healthcheck    exit 0 when /healthz answers 200 (Compose healthcheck)
#
# One process per connection (fork); SIGTERM stops accepting and lets in-flight requests end.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();

my $port    = $ENV{PORT} || 8080;
my $version = $ENV{APP_VERSION} || 'dev';
my $host    = `hostname` || 'unknown';
chomp $host;

if (@ARGV && $ARGV[0] eq '--healthcheck') {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2) or exit 1;
    print $s "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $status = <$s> // '';
    exit($status =~ m{^HTTP/1\.[01] 200 } ? 0 : 1);
}

sub psql {
    my ($sql) = @_;
    my $pid = open(my $fh, '-|') // return (undef, 'fork failed');
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT);
        exec('psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', $sql) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/^\s+|\s+$//g;
    return ($? == 0 ? $out : undef, $out);
}

sub respond {
    my ($c, $status, $type, $body) = @_;
    my %text = (200 => 'OK', 404 => 'Not Found', 405 => 'Method Not Allowed', 503 => 'Service Unavailable');
    print $c "HTTP/1.1 $status $text{$status}\r\nContent-Type: $type\r\nContent-Length: "
      . length($body) . "\r\nConnection: close\r\n\r\n$body";
}

sub handle {
    my ($c) = @_;
    local $SIG{ALRM} = sub { POSIX::_exit(0) };
    alarm 10;
    my $request = <$c> // return;
    while (my $line = <$c>) { last if $line =~ /^\r?\n$/ }
    my ($method, $path) = $request =~ m{^(\S+)\s+(\S+)};
    $path //= '/';
    $path =~ s/\?.*//;
    return respond($c, 405, 'text/plain', "method not allowed\n") unless ($method // '') =~ /^(GET|HEAD)$/;
    if ($path eq '/version') {
        return respond($c, 200, 'text/plain', "$version\n");
    }
    if ($path eq '/healthz') {
        my ($ok, $err) = psql('SELECT 1');
        return defined $ok ? respond($c, 200, 'text/plain', "ok\n") : respond($c, 503, 'text/plain', "database: $err\n");
    }
    if ($path eq '/') {
        (my $release = $version) =~ s/'/''/g;
        my ($count, $err) = psql("INSERT INTO visits (release) VALUES ('$release'); SELECT count(*) FROM visits");
        return respond($c, 503, 'text/plain', "database: $err\n") unless defined $count;
        return respond($c, 200, 'application/json', qq({"app":"sample","version":"$version","visits":$count,"container":"$host"}\n));
    }
    respond($c, 404, 'text/plain', "not found\n");
}

my $server = IO::Socket::INET->new(LocalPort => $port, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on :$port: $!\n";
$SIG{CHLD} = 'IGNORE';    # children are reaped automatically
my $running = 1;
$SIG{TERM} = $SIG{INT} = sub { $running = 0; close $server };
$| = 1;
print "web $version listening on :$port\n";

while ($running) {
    my $c = $server->accept or next;
    my $pid = fork;
    if (!defined $pid) { close $c; next }
    if ($pid == 0) {
        $SIG{TERM} = 'DEFAULT';
        $SIG{CHLD} = 'DEFAULT';    # so psql's exit status can be read
        close $server;
        handle($c);
        close $c;
        POSIX::_exit(0);
    }
    close $c;
}
print "web $version stopping\n";
exit 0;
