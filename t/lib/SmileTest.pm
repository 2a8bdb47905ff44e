package SmileTest;

# What the t/*.t suites take from the harness library
# (tools/lib/Smile/Harness/Events.pm): the seed document's example events
# (t/events/*.json, exact bytes), Smile's signature over a body, and events
# made now. See that file for what each one does.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__)) . '/../../tools/lib';
use Exporter qw(import);
use Smile::Harness::Events qw($SECRET sign event_names event_body
                              fresh_event rfc3339);

our @EXPORT = qw(sign event_body event_names $SECRET);
our @EXPORT_OK = qw(fresh_event rfc3339);

1;
