/* The sensor node application (the lab's ESP32 sketch). */
#ifndef SENSOR_NODE_H
#define SENSOR_NODE_H

/* Registers the resources; `edge_uri` ("" for none) receives each reading. 0 when the URI is unusable. */
int sensor_node_setup(const char *edge_uri);
/* One pass of the sketch's loop(): a reading every 2 s, then CoAP until the next one. */
void sensor_node_loop(void);

#endif
