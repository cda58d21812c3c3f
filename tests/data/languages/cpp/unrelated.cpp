#include <memory>
#include <stdexcept>
#include <utility>

template <typename T>
class Stack {
public:
    void push(T item) {
        items_.push_back(std::move(item));
    }

    T pop() {
        if (items_.empty()) {
            throw std::out_of_range("pop on an empty stack");
        }
        T top = std::move(items_.back());
        items_.pop_back();
        return top;
    }

    bool empty() const noexcept { return items_.empty(); }

private:
    std::vector<T> items_;
};

std::unique_ptr<Stack<int>> make_countdown(int from) {
    auto s = std::make_unique<Stack<int>>();
    while (from > 0) {
        s->push(from--);
    }
    return s;
}
