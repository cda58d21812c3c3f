package shop.billing

data class Invoice(val number: String, val cents: Long, val paid: Boolean = false)

interface Gateway {
    fun charge(account: String, cents: Long): Boolean
}

class Biller(private val gateway: Gateway) {
    private val log = mutableListOf<String>()

    fun settle(invoice: Invoice, account: String): Invoice {
        if (invoice.paid) return invoice
        val ok = gateway.charge(account, invoice.cents)
        log += "${invoice.number}: ${if (ok) "ok" else "failed"}"
        return if (ok) invoice.copy(paid = true) else invoice
    }

    fun history(): List<String> = log.toList()
}
