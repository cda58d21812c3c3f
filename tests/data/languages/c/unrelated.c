#include <stdint.h>
#include <stdlib.h>

typedef struct node {
    struct node *next;
    uint32_t key;
} node_t;

node_t *list_push(node_t *head, uint32_t key)
{
    node_t *n = malloc(sizeof *n);
    if (n == NULL) {
        abort();
    }
    n->next = head;
    n->key = key;
    return n;
}

uint32_t list_checksum(const node_t *head)
{
    uint32_t h = 2166136261u;
    while (head != NULL) {
        h = (h ^ head->key) * 16777619u;
        head = head->next;
    }
    return h;
}

void list_free(node_t *head)
{
    while (head) {
        node_t *next = head->next;
        free(head);
        head = next;
    }
}
