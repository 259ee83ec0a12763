-- The highest stream version each consumer applied per event stream and partition
-- (`credflow_common.inbox`): drops a repeated event however old it is, so the inbox only needs
-- to keep a window.
CREATE TABLE consumer_streams (
    consumer   text    NOT NULL,
    source     text    NOT NULL,
    stream_id  text    NOT NULL,
    topic      text    NOT NULL,
    partition  integer NOT NULL,
    version    bigint  NOT NULL,
    PRIMARY KEY (consumer, source, stream_id, topic, partition)
);
