package shop.billing;

import java.util.ArrayList;
import java.util.List;

public class Invoice {
    private final String number;
    private final long amountCents;
    private boolean paid;

    public Invoice(String number, long amountCents) {
        this.number = number;
        this.amountCents = amountCents;
    }

    public void markPaid() {
        paid = true;
    }

    public static long outstanding(List<Invoice> invoices) {
        long sum = 0L;
        for (Invoice inv : invoices) {
            if (!inv.paid) {
                sum += inv.amountCents;
            }
        }
        return sum;
    }

    public static List<String> numbers(List<Invoice> invoices) {
        List<String> out = new ArrayList<>();
        invoices.forEach(inv -> out.add(inv.number));
        return out;
    }
}
