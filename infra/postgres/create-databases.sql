-- Each service keeps its state in a database of its own.
CREATE DATABASE repair_intake;
CREATE DATABASE repair_dispatch;
CREATE DATABASE repair_timeline;
